#ifndef CPERFFLOOR_H
#define CPERFFLOOR_H
int cperf_placeholder(void);
#endif
