/* routes — the route table: method, path, handler and the roles allowed, in one place. */
#ifndef FLOWSTATE_ROUTES_H
#define FLOWSTATE_ROUTES_H

#include <stddef.h>

#include "gateway/http/router.h"

extern const struct route routes[];
extern const size_t routes_count;

#endif
