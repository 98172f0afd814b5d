/*
 * Handoff benchmark: the ping-pong of futex_pingpong.c written as an ordinary
 * pthread program (no harness API). Two threads pass a token back and forth
 * through two semaphores, ROUND_TRIPS times (argv[1], default 200000); it
 * prints the number of passes, which scripts/bench divides its wall time by.
 *
 * Why semaphores and not a mutex, two condition variables and a turn
 * variable: under the harness every call is one scheduling decision. With
 * semaphores a pass costs two: the sender's sem_post (the default order keeps
 * the sender running) and the sender's sem_wait, which cannot proceed, so the
 * baton goes to the receiver, whose sem_wait is now enabled: one baton
 * handoff, one extra decision. The condition-variable form costs at least
 * three per pass even with the mutex held around the whole loop (the signal,
 * then the two halves of pthread_cond_wait: release, then the wake-up), and
 * five with lock and unlock around each pass. Two is the minimum: a pass
 * needs one call that releases the other thread and one that blocks.
 *
 * Correct under any schedule: there is one token, and a thread only acts
 * while it holds it. The token plays the part of the lock: `turn` and
 * `passes` are touched only by its holder, and the semaphores order those
 * accesses (ThreadSanitizer sees the real sem_post/sem_wait).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

struct player {
	int me;                  /* 0 serves first, 1 answers */
	sem_t *mine, *other;     /* posted by the other player / by this one */
};

static sem_t sem[2];             /* sem[i]: the token is on its way to player i */
static long round_trips;         /* set before the threads start, then read-only */
static int turn;                 /* who holds the token (0 first); only its holder touches it */
static long passes;              /* token passes received; only the holder touches it */
static int wrong_turn;           /* set by a player that got the token out of turn */

/* Receives the token: it must have been sent to this player. Holder only. */
static void take_token(const struct player *p)
{
	if (turn != p->me)
		wrong_turn = 1;
	passes++;
}

/* Sends the token to the other player. Holder only. */
static void pass_token(const struct player *p)
{
	turn = !p->me;
	sem_post(p->other);
}

static void *play(void *arg)
{
	const struct player *p = arg;

	for (long i = 0; i < round_trips; i++) {
		if (p->me == 0) {
			pass_token(p);
			while (sem_wait(p->mine) && errno == EINTR)
				;
			take_token(p);
		} else {
			while (sem_wait(p->mine) && errno == EINTR)
				;
			take_token(p);
			pass_token(p);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	struct player pl[2] = {
		{ .me = 0, .mine = &sem[0], .other = &sem[1] },
		{ .me = 1, .mine = &sem[1], .other = &sem[0] },
	};
	char *end;

	round_trips = argc > 1 ? strtol(argv[1], &end, 10) : 200000;
	if (argc > 1 && (*end || round_trips < 1)) {
		fprintf(stderr, "handoff: ROUND_TRIPS must be a positive number, not '%s'\n", argv[1]);
		return 2;
	}
	sem_init(&sem[0], 0, 0);
	sem_init(&sem[1], 0, 0);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, play, &pl[i])) {
			fprintf(stderr, "handoff: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	if (wrong_turn || passes != 2 * round_trips) {
		fprintf(stderr, "handoff: broken ping-pong: %ld passes for %ld round trips%s\n", passes,
			round_trips, wrong_turn ? ", token received out of turn" : "");
		return 1;
	}
	/* each round trip: two passes, each one sem_post and one sem_wait */
	printf("handoffs=%ld sem_calls=%ld\n", passes, 4 * round_trips);
	return 0;
}
