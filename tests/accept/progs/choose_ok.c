/* The correct twin of choose_bug.c: the same choices, no failing combination. */
#define CHOOSE_OK 1
#include "choose_bug.c"
