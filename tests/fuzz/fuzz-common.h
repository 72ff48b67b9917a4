// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-common.h: what every libFuzzer target here shares: a failure macro that stays on
 * whatever NDEBUG says, a log writer that turns g_critical (a g_return_if_fail in the code
 * under test) into a crash while keeping the expected g_warning noise off the terminal, and a
 * small deterministic PRNG so that fragmentations derived from the input replay exactly. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* abort() so that libFuzzer saves the input as crash-<sha1> and the run fails. */
#define FUZZ_CHECK(cond, ...)                                                                  \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, \
			        #cond);                                                        \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
			abort();                                                               \
		}                                                                              \
	} while (0)

static inline GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	(void)user_data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		g_log_writer_standard_streams(level, fields, n_fields, NULL);
		abort();
	}
	/* Over-long lines are logged by design; printing them would only slow the run. */
	return G_LOG_WRITER_HANDLED;
}

/* Every target is one translation unit including this header once: the same start-up for
 * all of them, defined here. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
	return 0;
}

/* xorshift32; a zero seed would stay zero. */
typedef struct {
	guint32 s;
} FuzzRng;

static inline void
fuzz_rng_init(FuzzRng *r, guint32 seed)
{
	r->s = seed ? seed : 0x9e3779b9u;
}

static inline guint32
fuzz_rng_next(FuzzRng *r)
{
	guint32 x = r->s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->s = x;
	return x;
}

/* A fragment size in @lo..@hi, never more than @left. One draw: MIN(left, draw()) would
 * draw twice and could return more than @left. */
static inline gsize
fuzz_rng_piece(FuzzRng *r, guint32 lo, guint32 hi, gsize left)
{
	gsize n = lo + fuzz_rng_next(r) % (hi - lo + 1);

	return n < left ? n : left;
}

/* The fuzz input as a C string: up to the first NUL, as a line from the line reader or a
 * D-Bus string argument can never contain one. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	return g_strndup((const char *)data, size);
}
