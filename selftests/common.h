/* SPDX-License-Identifier: MIT */
/* The selftests' helpers are in helpers.h (and helpers.c): this name stays for the tests not yet moved to it. */
#include "helpers.h"
