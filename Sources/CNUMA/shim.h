#ifndef STRAITS_CNUMA_SHIM_H
#define STRAITS_CNUMA_SHIM_H
#include <numa.h>
#include <numaif.h>
#endif
