/*
 * The migration stream: what the source sends on the main channel, what the
 * destination answers on the return path (the same channel, the other
 * direction). All integers are big-endian (qemu_put_be*).
 */
#ifndef CORE_WIRE_H
#define CORE_WIRE_H

#define MIG_MAGIC 0x4d494752u        /* "MIGR" */
#define MIG_VERSION 1u

/*
 * Main stream, source -> destination: MIG_MAGIC, MIG_VERSION (be32 each),
 * then sections, each a type byte and its payload:
 *
 *   SEC_RAM_SETUP        be64 ram bytes, be32 page size
 *   SEC_OPEN_RETURN_PATH (none): the destination answers on the return path
 *                        from now on
 *   SEC_RAM_PAGE         be64 page index, then page-size bytes
 *   SEC_ITER_END         be64 iteration number; the destination answers
 *                        RP_ACK with it (if the return path is open)
 *   SEC_PING             be32 id; the destination answers RP_PONG with it
 *   SEC_DEVICE_STATE     be32 length (<= MIG_DEVICE_STATE_MAX), then bytes
 *   SEC_EOF              (none): the stream is complete; the destination
 *                        loads the device state, sends RP_SHUT and starts
 *                        the guest
 *   SEC_MULTIFD_SETUP    be32 n (1..MULTIFD_MAX_CHANNELS): right after
 *                        SEC_RAM_SETUP; pages come on n more channels, which
 *                        the source connected to the same address after the
 *                        main one; no SEC_RAM_PAGE on the main stream then
 *   SEC_MULTIFD_SYNC     be64 generation: every multifd channel carries a
 *                        SYNC packet of this generation; the destination goes
 *                        on only once each channel delivered it, so all pages
 *                        sent before are loaded (sent before each
 *                        SEC_ITER_END and before SEC_DEVICE_STATE)
 *   SEC_POSTCOPY_RUN     be64 npages, then BITMAP_LONGS(npages) be64 words:
 *                        the pages the destination does not have in their
 *                        last state (missing). The source stopped its guest
 *                        and sent the device state before; it connected the
 *                        postcopy channel to the same address just before
 *                        this section. The destination accepts it, starts
 *                        the guest and fetches missing pages on demand;
 *                        pages that follow on the main stream are placed
 *                        only if still missing, then SEC_EOF
 *   SEC_POSTCOPY_RESUME  (none): first section of a recovered postcopy's new
 *                        stream (after MIG_MAGIC, MIG_VERSION); the source
 *                        connects a new postcopy channel right after it. The
 *                        destination answers RP_RECV_BITMAP with its missing
 *                        pages, RP_RESUME_ACK, then the page requests still
 *                        in flight again; pages and SEC_EOF follow
 */
enum mig_section {
	SEC_RAM_SETUP = 1,
	SEC_OPEN_RETURN_PATH = 2,
	SEC_RAM_PAGE = 3,
	SEC_ITER_END = 4,
	SEC_PING = 5,
	SEC_DEVICE_STATE = 6,
	SEC_EOF = 7,
	SEC_MULTIFD_SETUP = 8,
	SEC_MULTIFD_SYNC = 9,
	SEC_POSTCOPY_RUN = 10,
	SEC_POSTCOPY_RESUME = 11,
};

/*
 * The postcopy channel (QEMU's preempt channel), source -> destination:
 * be32 POSTCOPY_MAGIC, then requested pages: be64 page index, page bytes.
 */
#define POSTCOPY_MAGIC 0x504f5354u   /* "POST" */

#define MIG_DEVICE_STATE_MAX 4096

/*
 * A multifd channel, source -> destination: be32 MULTIFD_MAGIC, be32 channel
 * id, then packets: be32 flags, be64 generation, be32 npages
 * (<= MULTIFD_PAGES_PER_PACKET), then npages times (be64 page index, page
 * bytes). MULTIFD_FLAG_SYNC marks the channel's SYNC of that generation (no
 * pages).
 */
#define MULTIFD_MAGIC 0x4d554c54u    /* "MULT" */
#define MULTIFD_MAX_CHANNELS 16
#define MULTIFD_PAGES_PER_PACKET 64
#define MULTIFD_FLAG_SYNC 1u

/*
 * Return path, destination -> source: messages of be16 type, be16 payload
 * length, payload.
 *
 *   RP_SHUT   be32 status: 0 the destination loaded everything and runs the
 *             guest, else a positive errno; the last message
 *   RP_PONG   be32 id of the SEC_PING answered
 *   RP_ACK    be64 iteration number of the SEC_ITER_END answered
 *   RP_REQ_PAGE be64 page index: postcopy, a vCPU needs this page; the
 *             source sends it on the postcopy channel unless it already
 *             went out on the main stream
 *   RP_RECV_BITMAP be64 first word index, then up to RP_BITMAP_WORDS be64
 *             words of the destination's missing-page bitmap (recovery)
 *   RP_RESUME_ACK be32 0: the whole bitmap was sent; postcopy goes on
 *
 * Any other type, or a wrong length, is a protocol error for the source.
 */
enum mig_rp_message {
	RP_SHUT = 1,
	RP_PONG = 2,
	RP_ACK = 3,
	RP_REQ_PAGE = 4,
	RP_RECV_BITMAP = 5,
	RP_RESUME_ACK = 6,
};

#define RP_BITMAP_WORDS 512

#endif
