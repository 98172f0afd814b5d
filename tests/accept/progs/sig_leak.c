/*
 * A leak through malloc: open_session() allocates sessions through
 * make_session() and forgets them (several: a pointer left in a register or a
 * dead stack slot would hide one from LeakSanitizer, not all). Signed at make_session, never at malloc.
 * argv[1] "freed": the session is freed, clean.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct session {
	int id;
	char *peer;
};

static struct session *volatile current;     /* keeps the allocation real */

static struct session *make_session(int id)
{
	struct session *s = malloc(sizeof(*s));
	s->id = id;
	s->peer = NULL;
	return s;
}

static void __attribute__((noinline)) open_session(bool freed)
{
	current = make_session(1);
	if (freed)
		free(current);
	current = NULL;
}

int main(int argc, char **argv)
{
	for (int i = 0; i < 8; i++)
		open_session(argc > 1 && strcmp(argv[1], "freed") == 0);
	return 0;
}
