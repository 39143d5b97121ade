/* SPDX-License-Identifier: MIT */
/*
 * The selftests' helpers are in helpers.h (and helpers.c): this name stays
 * for the programs not yet moved to it, with or without the harness.
 */
#ifndef TEST_HARNESS_MAIN
#define DMXP_TEST_NO_HARNESS
#endif
#include "helpers.h"
