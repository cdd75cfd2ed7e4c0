/* version — Flowstate's version, in one place: --version of every program, GET /health. */
#ifndef FLOWSTATE_VERSION_H
#define FLOWSTATE_VERSION_H

#define FLOWSTATE_VERSION "0.1.0"

#endif
