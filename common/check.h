/* A test assertion that, unlike assert(), survives -DNDEBUG, so expressions with side effects
 * can sit inside it in every build type. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#define check(expr)                                                                          \
        do {                                                                                 \
                if (!(expr)) {                                                               \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                             \
                }                                                                            \
        } while (0)
