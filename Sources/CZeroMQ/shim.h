#ifndef STRAITS_CZEROMQ_SHIM_H
#define STRAITS_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
