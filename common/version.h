/* version — Flowstate's version, in one place: the gateway's and the pool's --version, and
 * GET /health. */
#ifndef FLOWSTATE_VERSION_H
#define FLOWSTATE_VERSION_H

#define FLOWSTATE_VERSION "0.1.0"

#endif
