/* Linked with libearly.so, whose constructor starts a thread before the
 * runtime is set up: refused in one line naming early_tick, exit 2. */
#include <stdio.h>

int early_ticks(void);

int main(void)
{
	printf("%d\n", early_ticks() >= 0);
	return 0;
}
