// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-bench: dispatches to one benchmark of docs/performance.md; run-bench.sh runs them all. */
#include "bench.h"

#include <locale.h>
#include <string.h>

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
} commands[] = {
	{ "rtt", bench_cmd_rtt, "1. AT round trip vs Peer.Ping + direct pty" },
	{ "throughput", bench_cmd_throughput, "2. commands/s of N clients vs direct pty" },
	{ "client", bench_cmd_client, "(one client process of throughput)" },
	{ "urc", bench_cmd_urc, "3. URC -> Urc signal vs a bare GDBus signal" },
	{ "upload", bench_cmd_upload, "4. Files.Upload vs the protocol bound" },
	{ "fetch", bench_cmd_fetch, "5. UpgradeViaHost fetch vs curl; Command meanwhile" },
	{ "idle", bench_cmd_idle, "6./7. idle cost and startup vs minimal-owner" },
	{ "scale-modems", bench_cmd_scale_modems, "8. 1..N modems on one daemon" },
	{ "scale-jobs", bench_cmd_scale_jobs, "8. jobs in a row: time, RSS, state size" },
};

int
main(int argc, char **argv)
{
	setlocale(LC_ALL, "C");
	if (argc >= 2)
		for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
			if (strcmp(argv[1], commands[i].name) == 0)
				return commands[i].run(argc - 1, argv + 1);
	g_printerr("usage: dfota-bench COMMAND [OPTIONS] (COMMAND --help for its options)\n");
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		g_printerr("  %-11s %s\n", commands[i].name, commands[i].what);
	return 2;
}
