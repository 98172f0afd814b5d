/* twostage with 99 writers and the reader: 100 threads besides main */
#define WRITERS 99
#include "twostage.c"
