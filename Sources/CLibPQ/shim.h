#ifndef TIDEMARK_CLIBPQ_SHIM_H
#define TIDEMARK_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
