/*
 * migrace_choose as a recorded decision: two threads each choose a step
 * among four; the account goes negative only when the first takes 3 and the
 * second 2 (1 in 16 runs). Its twin choose_ok.c makes the same choices and
 * has no such combination. tests/accept/choose.sh.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>

#include <migrace/migrace.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int balance = 10, picks[2];

static void *client(void *arg)
{
	int id = (int)(long)arg;
	int pick = (int)migrace_choose(4);

	pthread_mutex_lock(&lock);
	picks[id] = pick;
	balance -= pick * (id + 2);          /* at most 3*2 + 3*3 = 15 */
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, client, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
#ifdef CHOOSE_OK
	assert(balance >= -5);
#else
	assert(!(picks[0] == 3 && picks[1] == 2) && balance >= -5);
#endif
	printf("balance %d (picks %d %d)\n", balance, picks[0], picks[1]);
	return 0;
}
