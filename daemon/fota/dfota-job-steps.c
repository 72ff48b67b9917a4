// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-job-steps: prints the steps of every job kind as docs/design.md shows them, from the
 * machine's own step lists; with --check FILE, fails unless FILE holds exactly that text
 * between its BEGIN/END markers (so the document cannot drift from the code). */
#include <stdio.h>
#include <string.h>

#include "dfota-job-machine.h"

#define BEGIN "<!-- BEGIN dfota-job-steps: generated, do not edit -->\n"
#define END "<!-- END dfota-job-steps -->"

int
main(int argc, char **argv)
{
	g_autofree char *table = dfota_job_machine_steps_markdown();
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	const char *b, *e;

	if (argc == 1) {
		fputs(table, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--check") != 0) {
		fprintf(stderr, "Usage: dfota-job-steps [--check FILE]\n");
		return 2;
	}
	if (!g_file_get_contents(argv[2], &text, NULL, &error)) {
		fprintf(stderr, "dfota-job-steps: %s\n", error->message);
		return 1;
	}
	b = strstr(text, BEGIN);
	e = b ? strstr(b, END) : NULL;
	if (!b || !e) {
		fprintf(stderr, "dfota-job-steps: %s has no %s ... %s block\n", argv[2], BEGIN,
		        END);
		return 1;
	}
	b += strlen(BEGIN);
	if ((gsize)(e - b) != strlen(table) || strncmp(b, table, strlen(table)) != 0) {
		fprintf(stderr,
		        "dfota-job-steps: the step table in %s is not the code's; replace it with "
		        "the output of dfota-job-steps:\n%s",
		        argv[2], table);
		return 1;
	}
	return 0;
}
