#include "CPerfFloor.h"
int cperf_placeholder(void) { return 0; }
