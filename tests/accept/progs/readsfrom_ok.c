/* The correct twin of readsfrom.c: the same threads, any value is fine. */
#define READSFROM_OK 1
#include "readsfrom.c"
