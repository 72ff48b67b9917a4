// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-at-channel.c: DfotaAtChannel against a scripted module on a real pseudo-terminal. */
#include "at-parse.h"
#include "dfota-at-channel.h"
#include "dfota-error.h"
#include "dfota-validate.h"
#include "pty-module.h"
#include "test-log.h"

#define WAIT_MS 3000

typedef struct {
	PtyModule *pty;
	DfotaSerial *serial;
	DfotaAtChannel *channel;
	GPtrArray *urcs;
	guint lost;
	guint resynced;
} Fixture;

/* The result of one command, filled by its callback. */
typedef struct {
	gboolean done;
	char **lines;
	GError *error;
	guint order; /* position among completions */
} Result;

static guint completion_counter;

static void
result_clear(Result *r)
{
	g_clear_pointer(&r->lines, g_strfreev);
	g_clear_error(&r->error);
	r->done = FALSE;
}

static void
on_urc(DfotaAtChannel *channel, const char *line, Fixture *f)
{
	g_ptr_array_add(f->urcs, g_strdup(line));
}

static void
on_lost(DfotaAtChannel *channel, GError *error, Fixture *f)
{
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
	f->lost++;
}

static void
on_resynced(DfotaAtChannel *channel, Fixture *f)
{
	f->resynced++;
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->pty = pty_module_new();
	f->serial = dfota_serial_open(f->pty->slave_path, 115200, FALSE, &error);
	g_assert_no_error(error);
	f->channel = dfota_at_channel_new(f->serial);
	dfota_at_channel_set_quiet_ms(f->channel, 50);
	dfota_at_channel_set_probe_timeout_ms(f->channel, 300);
	/* The URC prefixes these tests use, named as the modem layer names them. */
	dfota_at_channel_add_urc_prefix(f->channel, "+CEREG:");
	dfota_at_channel_add_urc_prefix(f->channel, "+QIND:");
	f->urcs = g_ptr_array_new_with_free_func(g_free);
	g_signal_connect(f->channel, "urc", G_CALLBACK(on_urc), f);
	g_signal_connect(f->channel, "lost", G_CALLBACK(on_lost), f);
	g_signal_connect(f->channel, "resynced", G_CALLBACK(on_resynced), f);
	completion_counter = 0;
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	dfota_at_channel_shutdown(f->channel);
	/* let the shutdown's completions run before the objects go */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_object_unref(f->channel);
	g_object_unref(f->serial);
	pty_module_free(f->pty);
	g_ptr_array_unref(f->urcs);
}

static void
on_sent(GObject *source, GAsyncResult *res, gpointer data)
{
	Result *r = data;

	g_assert_false(r->done);
	r->lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, &r->error);
	g_assert_true((r->lines == NULL) != (r->error == NULL));
	r->order = completion_counter++;
	r->done = TRUE;
}

static void
send(Fixture *f, const char *cmd, guint timeout_ms, Result *r)
{
	dfota_at_channel_send(f->channel, cmd, timeout_ms, DFOTA_AT_FLAG_NONE, NULL, on_sent, r);
}

static void
wait_result(Result *r)
{
	pty_test_wait_flag(&r->done, WAIT_MS);
}

static void
assert_lines(Result *r, const char *const *want)
{
	g_assert_no_error(r->error);
	g_assert_nonnull(r->lines);
	/* Not g_assert_cmpstrv: its length comes from g_strv_length, which the static analyzer
	 * cannot follow, so it reads want past its end on paths that cannot happen. */
	guint n = 0;
	for (; want[n]; n++) {
		g_assert_nonnull(r->lines[n]);
		g_assert_cmpstr(r->lines[n], ==, want[n]);
	}
	g_assert_null(r->lines[n]);
}

static gboolean
has_urc(Fixture *f, const char *line)
{
	for (guint i = 0; i < f->urcs->len; i++) {
		if (g_str_equal(g_ptr_array_index(f->urcs, i), line))
			return TRUE;
	}
	return FALSE;
}

/* ---- FIFO with exactly one command in flight ---- */

typedef struct {
	Fixture *f;
	gboolean pending; /* an answer is scheduled: no other command may arrive now */
	char *answer_for;
	guint overlaps;
} DelayedModule;

static gboolean
delayed_answer(gpointer data)
{
	DelayedModule *m = data;
	g_autofree char *reply = g_strdup_printf("\r\n+%s: ok\r\n\r\nOK\r\n", m->answer_for + 3);

	m->pending = FALSE;
	pty_module_say(m->f->pty, reply);
	g_clear_pointer(&m->answer_for, g_free);
	return G_SOURCE_REMOVE;
}

static void
delayed_on_command(PtyModule *pty, const char *cmd, gpointer data)
{
	DelayedModule *m = data;

	if (m->pending)
		m->overlaps++;
	m->pending = TRUE;
	g_free(m->answer_for);
	m->answer_for = g_strdup(cmd);
	g_timeout_add(5, delayed_answer, m);
}

static void
test_fifo(Fixture *f, gconstpointer data)
{
	enum { N = 20 };
	Result r[N] = { 0 };
	DelayedModule m = { .f = f };

	f->pty->on_command = delayed_on_command;
	f->pty->user_data = &m;
	for (int i = 0; i < N; i++) {
		g_autofree char *cmd = g_strdup_printf("AT+T%d", i);
		send(f, cmd, 2000, &r[i]);
	}
	/* the idle channel wrote the first at once; the others wait their turn */
	g_assert_cmpuint(dfota_at_channel_get_waiting(f->channel), ==, N - 1);
	g_assert_cmpuint(dfota_at_channel_get_queue_length(f->channel), ==, 0);
	/* nothing completes synchronously inside send() */
	for (int i = 0; i < N; i++)
		g_assert_false(r[i].done);
	wait_result(&r[N - 1]);
	for (int i = 0; i < N; i++) {
		g_autofree char *want = g_strdup_printf("+T%d: ok", i);
		g_autofree char *cmd = g_strdup_printf("AT+T%d", i);
		const char *const lines[] = { want, NULL };
		g_assert_true(r[i].done);
		g_assert_cmpuint(r[i].order, ==, (guint)i);
		assert_lines(&r[i], lines);
		g_assert_cmpstr(g_ptr_array_index(f->pty->commands, i), ==, cmd);
		result_clear(&r[i]);
	}
	g_assert_cmpuint(m.overlaps, ==, 0);
	g_assert_cmpuint(f->pty->commands->len, ==, N);
}

/* ---- the next command goes out before the previous one's caller hears back ---- */

typedef struct {
	Fixture *f;
	Result r;
	guint waiting_at_callback;
} EarlyProbe;

static void
on_sent_probe_queue(GObject *source, GAsyncResult *res, gpointer data)
{
	EarlyProbe *p = data;

	p->waiting_at_callback = dfota_at_channel_get_waiting(p->f->channel);
	on_sent(source, res, &p->r);
}

static void
test_next_before_reply(Fixture *f, gconstpointer data)
{
	EarlyProbe p = { .f = f };
	Result second = { 0 };
	const char *const none[] = { NULL };

	/* OK ends what the module sent: the queued command is written first, so the module
	 * works on it while the first caller's reply is built */
	dfota_at_channel_send(f->channel, "AT+ONE", 2000, DFOTA_AT_FLAG_NONE, NULL,
	                      on_sent_probe_queue, &p);
	send(f, "AT+TWO", 2000, &second);
	pty_module_expect(f->pty, "AT+ONE", WAIT_MS);
	g_assert_cmpuint(dfota_at_channel_get_waiting(f->channel), ==, 1);
	pty_module_say(f->pty, "\r\nOK\r\n");
	pty_test_wait_flag(&p.r.done, WAIT_MS);
	g_assert_cmpuint(p.waiting_at_callback, ==, 0);
	pty_module_expect(f->pty, "AT+TWO", WAIT_MS);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&second);
	assert_lines(&second, none);
	result_clear(&p.r);
	result_clear(&second);

	/* more bytes after the OK: they are read first, with no command in flight, so a line
	 * that belongs to nobody is not credited to the next command */
	dfota_at_channel_send(f->channel, "AT+THREE", 2000, DFOTA_AT_FLAG_NONE, NULL,
	                      on_sent_probe_queue, &p);
	send(f, "AT+FOUR", 2000, &second);
	pty_module_expect(f->pty, "AT+THREE", WAIT_MS);
	pty_module_say(f->pty, "\r\nOK\r\nstray words\r\n");
	pty_test_wait_flag(&p.r.done, WAIT_MS);
	g_assert_cmpuint(p.waiting_at_callback, ==, 1);
	pty_module_expect(f->pty, "AT+FOUR", WAIT_MS);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&second);
	assert_lines(&second, none);
	g_assert_true(has_urc(f, "stray words"));
	result_clear(&p.r);
	result_clear(&second);
}

/* ---- which lines belong to the command ---- */

static void
test_expected_prefix_rule(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	const char *const cereg[] = { "+CEREG: 0,1", NULL };
	const char *const cesq[] = { "+CESQ: 99,99,255,255,12,45", NULL };

	/* +CEREG: is a URC prefix, but it answers AT+CEREG? */
	send(f, "AT+CEREG?", 2000, &r);
	pty_module_expect(f->pty, "AT+CEREG?", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, cereg);
	g_assert_cmpuint(f->urcs->len, ==, 0);
	result_clear(&r);

	/* the same prefix while AT+CESQ is in flight is a URC */
	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CEREG: 5\r\n\r\n+CESQ: 99,99,255,255,12,45\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, cesq);
	g_assert_true(has_urc(f, "+CEREG: 5"));
	g_assert_cmpuint(f->urcs->len, ==, 1);
	result_clear(&r);
}

/* A prefix is unsolicited only once a caller names it; the sleep lines are the channel's own. */
static void
test_urc_prefix_registered(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	const char *const folded[] = { "+CSCON: 1", "+CESQ: 1,2", NULL };
	const char *const cesq[] = { "+CESQ: 1,2", NULL };

	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CSCON: 1\r\n\r\n+CESQ: 1,2\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, folded);
	g_assert_cmpuint(f->urcs->len, ==, 0);
	result_clear(&r);

	dfota_at_channel_add_urc_prefix(f->channel, "+CSCON:");
	dfota_at_channel_add_urc_prefix(f->channel, "+CSCON:"); /* again: no change */
	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CSCON: 0\r\n\r\n+CESQ: 1,2\r\n\r\n+QATWAKEUP\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, cesq);
	g_assert_cmpuint(f->urcs->len, ==, 2);
	g_assert_cmpstr(f->urcs->pdata[0], ==, "+CSCON: 0");
	g_assert_cmpstr(f->urcs->pdata[1], ==, "+QATWAKEUP");
	result_clear(&r);

	/* still its own answer when the command asks for it */
	send(f, "AT+CSCON?", 2000, &r);
	pty_module_expect(f->pty, "AT+CSCON?", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CSCON: 0,1\r\n\r\nOK\r\n");
	wait_result(&r);
	g_assert_no_error(r.error);
	g_assert_cmpstr(r.lines[0], ==, "+CSCON: 0,1");
	g_assert_cmpuint(f->urcs->len, ==, 2);
	result_clear(&r);
}

typedef struct {
	guint calls;
	char *last;
} HandlerLog;

static void
urc_handler(DfotaAtChannel *channel, const char *line, gpointer data)
{
	HandlerLog *log = data;

	log->calls++;
	g_free(log->last);
	log->last = g_strdup(line);
}

static void
test_echo_and_urc_between(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	HandlerLog qind = { 0 }, mine = { 0 };
	const char *const cesq[] = { "+CESQ: 30,0,255,255,255,255", NULL };
	const char *const ati[] = { "Quectel_Ltd", "Quectel_BC65", "Revision: BC65JAR01A01", NULL };
	guint id;

	dfota_at_channel_add_urc_handler(f->channel, "+QIND:", urc_handler, &qind, NULL);
	id = dfota_at_channel_add_urc_handler(f->channel, "+MINE:", urc_handler, &mine, NULL);

	/* echo on, a URC between the echo and the answer, a custom URC prefix */
	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	pty_module_say(f->pty, "AT+CESQ\r\r\n+QIND: \"FOTA\",\"START\"\r\n+MINE: 1\r\n"
	                       "\r\n+CESQ: 30,0,255,255,255,255\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, cesq);
	g_assert_cmpuint(qind.calls, ==, 1);
	g_assert_cmpstr(qind.last, ==, "+QIND: \"FOTA\",\"START\"");
	g_assert_cmpuint(mine.calls, ==, 1);
	g_assert_true(has_urc(f, "+MINE: 1"));
	result_clear(&r);

	/* lines without a prefix are information lines; echo in another case is dropped */
	send(f, "ATI", 2000, &r);
	pty_module_expect(f->pty, "ATI", WAIT_MS);
	pty_module_say(f->pty, "ati\r\r\nQuectel_Ltd\r\nQuectel_BC65\r\nRevision: BC65JAR01A01\r\n"
	                       "\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, ati);
	result_clear(&r);

	/* nothing in flight: every line is a URC, except a stray echo */
	dfota_at_channel_remove_urc_handler(f->channel, id);
	pty_module_say(f->pty, "\r\n+MINE: 2\r\nAT+CESQ\r\n+CSQ: 5,99\r\nRDY\r\n");
	{
		guint want = f->urcs->len + 3;
		pty_test_wait_count(&f->urcs->len, want, WAIT_MS);
	}
	g_assert_true(has_urc(f, "+MINE: 2"));
	g_assert_true(has_urc(f, "+CSQ: 5,99"));
	g_assert_true(has_urc(f, "RDY"));
	g_assert_false(has_urc(f, "AT+CESQ"));
	g_assert_cmpuint(mine.calls, ==, 1); /* removed */
	g_free(qind.last);
	g_free(mine.last);
}

static void
test_fragmentation_noise(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	const char *const want[] = { "+CESQ: 99,99,255,255,12,45", NULL };
	static const char answer[] = "AT+CESQ\r\r\n+CEREG: 1\r\n\r\n+CESQ: 99,99,255,255,12,45"
	                             "\r\n\r\nOK\r\n";
	static const char noisy[] = "\0\0\r\n+CESQ: 99,99,\xff"
	                            "255,255,12,45\x01\r\n\0\r\nO\0K\r\n";
	g_autoptr(GString) longline = g_string_new("\r\n+CESQ: ");

	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	pty_module_say_bytewise(f->pty, answer, sizeof(answer) - 1);
	wait_result(&r);
	assert_lines(&r, want);
	g_assert_true(has_urc(f, "+CEREG: 1"));
	result_clear(&r);

	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	pty_module_write(f->pty, noisy, sizeof(noisy) - 1);
	wait_result(&r);
	assert_lines(&r, want);
	result_clear(&r);

	/* an over-long line is dropped whole; the rest of the answer still counts */
	for (int i = 0; i < 600; i++)
		g_string_append(longline, "0123456789");
	g_string_append(longline, "\r\n+CESQ: 99,99,255,255,12,45\r\nOK\r\n");
	send(f, "AT+CESQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CESQ", WAIT_MS);
	test_log_expect = "longer than";
	test_log_count = 0;
	pty_module_write(f->pty, longline->str, longline->len);
	wait_result(&r);
	g_assert_cmpuint(test_log_count, ==, 1);
	test_log_expect = NULL;
	assert_lines(&r, want);
	result_clear(&r);
}

static void
test_bounded_queue(Fixture *f, gconstpointer data)
{
	static const char *const cmds[] = { "AT+A", "AT+B", "AT+C", "AT+D", "AT+E" };
	Result r[5] = { 0 };

	/* The bound counts waiting commands: AT+A goes out at once (in flight, not waiting),
	 * AT+B and AT+C wait, AT+D is one too many. */
	dfota_at_channel_set_max_queue(f->channel, 2);
	for (int i = 0; i < 4; i++)
		dfota_at_channel_send(f->channel, cmds[i], 2000, DFOTA_AT_FLAG_BOUNDED, NULL,
		                      on_sent, &r[i]);
	/* the daemon's own commands are not bounded */
	dfota_at_channel_send(f->channel, "AT+E", 2000, DFOTA_AT_FLAG_NONE, NULL, on_sent, &r[4]);
	g_assert_cmpuint(dfota_at_channel_get_queue_length(f->channel), ==, 2);
	g_assert_false(r[3].done);
	wait_result(&r[3]);
	g_assert_error(r[3].error, DFOTA_ERROR, DFOTA_ERROR_BUSY);
	for (int i = 0; i < 5; i++) {
		if (i == 3)
			continue;
		pty_module_expect(f->pty, cmds[i], WAIT_MS);
		pty_module_say(f->pty, "\r\nOK\r\n");
		wait_result(&r[i]);
		g_assert_no_error(r[i].error);
		g_assert_cmpuint(g_strv_length(r[i].lines), ==, 0);
		result_clear(&r[i]);
	}
	result_clear(&r[3]);
}

static void
test_errors(Fixture *f, gconstpointer data)
{
	Result r = { 0 };

	send(f, "AT+BAD", 2000, &r);
	pty_module_expect(f->pty, "AT+BAD", WAIT_MS);
	pty_module_say(f->pty, "\r\nERROR\r\n");
	wait_result(&r);
	g_assert_error(r.error, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED);
	result_clear(&r);

	send(f, "AT+QFOTADL=\"http://224.168.203.812:3029/update.pack\"", 2000, &r);
	pty_module_expect(f->pty, "AT+QFOTADL=\"http://224.168.203.812:3029/update.pack\"",
	                  WAIT_MS);
	pty_module_say(f->pty, "\r\n+CME ERROR: 6504\r\n");
	wait_result(&r);
	g_assert_error(r.error, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_NOT_FOUND);
	g_assert_cmpstr(dfota_error_short_name(r.error), ==, "PackageNotFound");
	result_clear(&r);

	send(f, "AT+CGATT=1", 2000, &r);
	pty_module_expect(f->pty, "AT+CGATT=1", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CME ERROR: 30\r\n");
	wait_result(&r);
	g_assert_error(r.error, DFOTA_ERROR, DFOTA_ERROR_CME_ERROR);
	g_assert_cmpstr(r.error->message, ==, "+CME ERROR: 30");
	result_clear(&r);

	/* write_raw outside a data phase */
	{
		g_autoptr(GError) error = NULL;
		g_assert_false(dfota_at_channel_write_raw(f->channel, "x", 1, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
	}
}

/* ---- chained lines: the prefixes of every command in the line ---- */

static void
test_chain_prefixes(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	const char *const want[] = { "BC65JAR01A01", "+CEREG: 0,1", NULL };
	const char *const want2[] = { "Quectel_Ltd", "+CGSN: 866971030012345", "+CESQ: 1,2", NULL };

	/* +CEREG: is a URC prefix, but the line's second command asks for it */
	send(f, "AT+CGMR;+CEREG?", 2000, &r);
	pty_module_expect(f->pty, "AT+CGMR;+CEREG?", WAIT_MS);
	pty_module_say(f->pty, "\r\nBC65JAR01A01\r\n\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n"
	                       "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, want);
	g_assert_cmpuint(f->urcs->len, ==, 1);
	g_assert_true(has_urc(f, "+QIND: \"FOTA\",\"HTTPSTART\""));
	result_clear(&r);

	/* basic and extended commands concatenated, spaces and case as V.250 allows */
	send(f, "ATI;+cgsn = 1;+CESQ", 2000, &r);
	pty_module_expect(f->pty, "ATI;+cgsn = 1;+CESQ", WAIT_MS);
	pty_module_say(f->pty, "\r\nQuectel_Ltd\r\n\r\n+CGSN: 866971030012345\r\n\r\n"
	                       "+CEREG: 5\r\n\r\n+CESQ: 1,2\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, want2);
	g_assert_true(has_urc(f, "+CEREG: 5"));
	result_clear(&r);
}

/* ---- a prompt or data mode the channel did not ask for is left at once ---- */

/* Waits until the module has received exactly @want after its last CR (no CR follows an ESC
 * or "+++"), then forgets it. */
static void
wait_partial(Fixture *f, const char *want)
{
	gboolean expired = FALSE;
	guint id = g_timeout_add(WAIT_MS, pty_test_deadline_hit, &expired);

	while (!g_str_equal(f->pty->partial->str, want) && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(id);
	g_assert_cmpstr(f->pty->partial->str, ==, want);
	g_string_truncate(f->pty->partial, 0);
}

static void
assert_next_command_works(Fixture *f)
{
	Result r = { 0 };
	const char *const csq[] = { "+CSQ: 20,99", NULL };

	send(f, "AT+CSQ", 2000, &r);
	pty_module_expect(f->pty, "AT+CSQ", WAIT_MS);
	pty_module_say(f->pty, "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
	wait_result(&r);
	assert_lines(&r, csq);
	result_clear(&r);
}

static void
test_prompt_left(Fixture *f, gconstpointer data)
{
	Result r = { 0 };

	/* the prompt comes without CR/LF, split over two reads */
	send(f, "AT+QISEND=0,5", 5000, &r);
	pty_module_expect(f->pty, "AT+QISEND=0,5", WAIT_MS);
	pty_module_say_bytewise(f->pty, "\r\n> ", 5);
	wait_partial(f, "\x1b");
	g_assert_false(r.done);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&r);
	/* failed, even though the module said OK: nothing was sent */
	g_assert_error(r.error, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED);
	g_assert_nonnull(strstr(r.error->message, "prompt"));
	result_clear(&r);
	assert_next_command_works(f);
	g_assert_cmpuint(f->resynced, ==, 0);

	/* a module that says nothing after ESC: CommandFailed at the timeout, then resync */
	send(f, "AT+CMGS=\"123\"", 300, &r);
	pty_module_expect(f->pty, "AT+CMGS=\"123\"", WAIT_MS);
	pty_module_say(f->pty, "\r\n> ");
	wait_partial(f, "\x1b");
	wait_result(&r);
	g_assert_error(r.error, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED);
	g_assert_nonnull(strstr(r.error->message, "prompt"));
	result_clear(&r);
	pty_module_expect(f->pty, "ATI", WAIT_MS);
	pty_module_say(f->pty, "\r\nQuectel_Ltd\r\nQuectel_BC65\r\nRevision: BC65JAR01A01\r\n"
	                       "\r\nOK\r\n");
	assert_next_command_works(f);
	g_assert_cmpuint(f->resynced, ==, 1);
}

static void
test_connect_left(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	gint64 connect_at;

	send(f, "AT+QHTTPURL=20", 5000, &r);
	pty_module_expect(f->pty, "AT+QHTTPURL=20", WAIT_MS);
	pty_module_say(f->pty, "\r\nCONNECT\r\n");
	connect_at = g_get_monotonic_time();
	/* "+++" only after a guard time of silence, as Quectel's data mode requires */
	wait_partial(f, "+++");
	g_assert_cmpint(g_get_monotonic_time() - connect_at, >=, 900 * 1000);
	g_assert_false(r.done);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&r);
	g_assert_error(r.error, DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED);
	g_assert_nonnull(strstr(r.error->message, "CONNECT"));
	result_clear(&r);
	assert_next_command_works(f);
	g_assert_cmpuint(f->resynced, ==, 0);
}

/* ---- timeout, then a late answer that must not be credited to the next command ---- */

static void
test_timeout_resync(Fixture *f, gconstpointer data)
{
	Result slow = { 0 }, next = { 0 };
	const char *const next_lines[] = { "+CSQ: 20,99", NULL };
	gint64 sent_at;

	send(f, "AT+COPS=?", 200, &slow);
	send(f, "AT+CSQ", 2000, &next);
	pty_module_expect(f->pty, "AT+COPS=?", WAIT_MS);
	sent_at = g_get_monotonic_time();
	wait_result(&slow);
	g_assert_error(slow.error, DFOTA_ERROR, DFOTA_ERROR_TIMEOUT);
	g_assert_cmpint(g_get_monotonic_time() - sent_at, >=, 150 * 1000);
	g_assert_false(next.done);

	/* the late answer arrives while the channel waits for quiet: discarded */
	pty_module_say(f->pty, "\r\n+COPS: (2,\"CMCC\",\"CMCC\",\"46000\",9)\r\n\r\nOK\r\n");
	pty_module_expect(f->pty, "ATI", WAIT_MS);
	/* another late OK answers the probe: it has no identity lines, so it cannot pass */
	pty_module_say(f->pty, "\r\nOK\r\n");
	pty_module_expect(f->pty, "ATI", WAIT_MS);
	g_assert_false(next.done);
	g_assert_cmpuint(f->resynced, ==, 0);
	pty_module_say(f->pty, "\r\nQuectel_Ltd\r\nQuectel_BC65\r\nRevision: BC65JAR01A01\r\n"
	                       "\r\nOK\r\n");
	pty_module_expect(f->pty, "AT+CSQ", WAIT_MS);
	g_assert_cmpuint(f->resynced, ==, 1);
	g_assert_false(next.done);
	pty_module_say(f->pty, "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
	wait_result(&next);
	assert_lines(&next, next_lines);
	g_assert_cmpuint(f->pty->commands->len, ==, 4);
	result_clear(&slow);
	result_clear(&next);
}

static void
test_probe_timeout_backoff(Fixture *f, gconstpointer data)
{
	Result slow = { 0 }, next = { 0 };

	send(f, "AT+X", 100, &slow);
	send(f, "AT+Y", 2000, &next);
	pty_module_expect(f->pty, "AT+X", WAIT_MS);
	wait_result(&slow);
	g_assert_error(slow.error, DFOTA_ERROR, DFOTA_ERROR_TIMEOUT);
	/* the module stays silent: the probe times out and is repeated */
	pty_module_expect(f->pty, "ATI", WAIT_MS);
	pty_module_expect(f->pty, "ATI", WAIT_MS);
	pty_module_say(f->pty, "\r\nQuectel_Ltd\r\nQuectel_BC92\r\nRevision: BC92JBR01A02\r\n"
	                       "\r\nOK\r\n");
	pty_module_expect(f->pty, "AT+Y", WAIT_MS);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&next);
	g_assert_no_error(next.error);
	result_clear(&slow);
	result_clear(&next);
}

/* ---- one command timer, re-armed ---- */

typedef struct {
	Fixture *f;
	guint answer_after_ms; /* 0: at once */
	gboolean silent;
} AnsweringModule;

static gboolean
answer_ok(gpointer data)
{
	AnsweringModule *m = data;

	pty_module_say(m->f->pty, "\r\nOK\r\n");
	return G_SOURCE_REMOVE;
}

static void
answering_on_command(PtyModule *pty, const char *cmd, gpointer data)
{
	AnsweringModule *m = data;

	if (g_str_equal(cmd, "ATI")) {
		pty_module_say(pty, "\r\nQuectel_Ltd\r\nQuectel_BC65\r\nRevision: BC65JAR01A01\r\n"
		                    "\r\nOK\r\n");
		return;
	}
	if (m->silent)
		return;
	if (m->answer_after_ms)
		g_timeout_add(m->answer_after_ms, answer_ok, m);
	else
		answer_ok(m);
}

static void
on_sent_count(GObject *source, GAsyncResult *res, gpointer data)
{
	guint *done = data;
	g_auto(GStrv) lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, NULL);

	g_assert_nonnull(lines);
	(*done)++;
}

/* A source id is taken from a counter on every attach: the ids handed out between two marks
 * are the sources attached meanwhile. */
static gboolean
mark_callback(gpointer data)
{
	return G_SOURCE_REMOVE;
}

static guint
source_mark(void)
{
	guint id = g_idle_add(mark_callback, NULL);

	g_source_remove(id);
	return id;
}

static void
test_timer_rearmed(Fixture *f, gconstpointer data)
{
	AnsweringModule m = { .f = f };
	Result r = { 0 };
	guint done = 0, before, after;
	gint64 sent_at;

	f->pty->on_command = answering_on_command;
	f->pty->user_data = &m;

	/* commands back to back: no source is created per command for its timeout */
	before = source_mark();
	for (guint i = 0; i < 40; i++)
		dfota_at_channel_send(f->channel, "AT", 60000, DFOTA_AT_FLAG_NONE, NULL,
		                      on_sent_count, &done);
	pty_test_wait_count(&done, 40, WAIT_MS);
	after = source_mark();
	g_assert_cmpuint(after - before, <, 10);

	/* an earlier deadline than the one armed (60 s, by the first command above) moves the
	 * timer forward: the silent module's command times out after its own 150 ms, never
	 * before */
	m.silent = TRUE;
	sent_at = g_get_monotonic_time();
	send(f, "AT+COPS=?", 150, &r);
	wait_result(&r);
	g_assert_error(r.error, DFOTA_ERROR, DFOTA_ERROR_TIMEOUT);
	g_assert_cmpint(g_get_monotonic_time() - sent_at, >=, 150 * 1000);
	result_clear(&r);
	m.silent = FALSE; /* the resync probe gets its identity */
	pty_test_wait_count(&f->resynced, 1, WAIT_MS);

	/* the timer, armed for a short timeout, does not end a later command with a longer one
	 * when it fires at the stale time: it re-arms to the new deadline */
	send(f, "AT", 100, &r);
	wait_result(&r);
	g_assert_no_error(r.error);
	result_clear(&r);
	m.answer_after_ms = 300;
	send(f, "AT", 1500, &r);
	wait_result(&r);
	g_assert_no_error(r.error);
	result_clear(&r);
}

/* ---- cancellation ---- */

static void
test_cancel(Fixture *f, gconstpointer data)
{
	Result first = { 0 }, queued = { 0 }, early = { 0 }, inflight = { 0 };
	g_autoptr(GCancellable) c1 = g_cancellable_new();
	g_autoptr(GCancellable) c2 = g_cancellable_new();
	g_autoptr(GCancellable) c3 = g_cancellable_new();

	send(f, "AT+FIRST", 2000, &first);
	dfota_at_channel_send(f->channel, "AT+QUEUED", 2000, 0, c1, on_sent, &queued);
	g_cancellable_cancel(c2);
	dfota_at_channel_send(f->channel, "AT+EARLY", 2000, 0, c2, on_sent, &early);
	pty_module_expect(f->pty, "AT+FIRST", WAIT_MS);
	g_cancellable_cancel(c1);
	wait_result(&queued);
	g_assert_error(queued.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	wait_result(&early);
	g_assert_error(early.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_false(first.done);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&first);
	g_assert_no_error(first.error);

	/* cancelled in flight: the command runs to its end, the caller hears Cancelled */
	dfota_at_channel_send(f->channel, "AT+INFLIGHT", 2000, 0, c3, on_sent, &inflight);
	pty_module_expect(f->pty, "AT+INFLIGHT", WAIT_MS);
	g_cancellable_cancel(c3);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_assert_false(inflight.done);
	pty_module_say(f->pty, "\r\n+INFLIGHT: 1\r\nOK\r\n");
	wait_result(&inflight);
	g_assert_error(inflight.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	/* neither cancelled command reached the module */
	g_assert_cmpuint(f->pty->commands->len, ==, 2);
	result_clear(&first);
	result_clear(&queued);
	result_clear(&early);
	result_clear(&inflight);
}

/* Callers share a cancellable (the service: one per D-Bus client). Cancelling one ends exactly
 * its queued commands, also when cancelled from another thread, and commands that wait do
 * not cost a source each. */
static gpointer
cancel_in_thread(gpointer data)
{
	g_cancellable_cancel(data);
	return NULL;
}

static void
test_cancel_shared(Fixture *f, gconstpointer data)
{
	AnsweringModule m = { .f = f };
	Result first = { 0 }, r[4] = { 0 };
	const char *const texts[] = { "AT+A", "AT+B", "AT+C", "AT+D" };
	g_autoptr(GCancellable) c1 = g_cancellable_new();
	g_autoptr(GCancellable) c2 = g_cancellable_new();
	g_autoptr(GCancellable) c3 = g_cancellable_new();
	guint done = 0, before, after;
	GThread *thread;

	send(f, "AT+FIRST", 2000, &first);
	for (guint i = 0; i < 4; i++)
		dfota_at_channel_send(f->channel, texts[i], 2000, 0, i % 2 ? c2 : c1, on_sent,
		                      &r[i]);
	pty_module_expect(f->pty, "AT+FIRST", WAIT_MS);
	thread = g_thread_new("canceller", cancel_in_thread, c1);
	g_thread_join(thread);
	wait_result(&r[0]);
	wait_result(&r[2]);
	g_assert_error(r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_error(r[2].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_false(first.done);
	g_assert_false(r[1].done);
	pty_module_say(f->pty, "\r\nOK\r\n");
	pty_module_expect(f->pty, "AT+B", WAIT_MS);
	pty_module_say(f->pty, "\r\nOK\r\n");
	pty_module_expect(f->pty, "AT+D", WAIT_MS);
	pty_module_say(f->pty, "\r\nOK\r\n");
	wait_result(&r[3]);
	g_assert_no_error(first.error);
	g_assert_no_error(r[1].error);
	g_assert_no_error(r[3].error);
	g_assert_cmpuint(f->pty->commands->len, ==, 3);

	/* 40 commands of one caller, all but the first waiting: no source each */
	f->pty->on_command = answering_on_command;
	f->pty->user_data = &m;
	before = source_mark();
	for (guint i = 0; i < 40; i++)
		dfota_at_channel_send(f->channel, "AT", 2000, DFOTA_AT_FLAG_NONE, c3, on_sent_count,
		                      &done);
	pty_test_wait_count(&done, 40, WAIT_MS);
	after = source_mark();
	g_assert_cmpuint(after - before, <, 10);
	result_clear(&first);
	for (guint i = 0; i < 4; i++)
		result_clear(&r[i]);
}

/* ---- loss ---- */

static void
test_lost(Fixture *f, gconstpointer data)
{
	Result r[3] = { 0 }, after = { 0 };

	send(f, "AT+A", 2000, &r[0]);
	send(f, "AT+B", 2000, &r[1]);
	send(f, "AT+C", 2000, &r[2]);
	pty_module_expect(f->pty, "AT+A", WAIT_MS);
	pty_module_hangup(f->pty);
	for (int i = 0; i < 3; i++) {
		wait_result(&r[i]);
		g_assert_error(r[i].error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
		result_clear(&r[i]);
	}
	g_assert_cmpuint(f->lost, ==, 1);
	send(f, "AT+D", 2000, &after);
	g_assert_false(after.done);
	wait_result(&after);
	g_assert_error(after.error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
	result_clear(&after);
}

static void
test_shutdown(Fixture *f, gconstpointer data)
{
	Result r[2] = { 0 };

	send(f, "AT+A", 2000, &r[0]);
	send(f, "AT+B", 2000, &r[1]);
	pty_module_expect(f->pty, "AT+A", WAIT_MS);
	dfota_at_channel_shutdown(f->channel);
	dfota_at_channel_shutdown(f->channel);
	for (int i = 0; i < 2; i++) {
		wait_result(&r[i]);
		g_assert_error(r[i].error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
		result_clear(&r[i]);
	}
	g_assert_cmpuint(f->lost, ==, 0);
}

/* ---- data phases ---- */

typedef struct {
	Fixture *f;
	const guint8 *data;
	gsize size;
	gsize sent;
	gsize acked;     /* 'A's the channel handed us */
	gsize received;  /* bytes the module got */
	GByteArray *got; /* download: bytes handed to on_raw */
	guint connects;
	gboolean inject;
} Transfer;

static void
upload_send_block(Transfer *t)
{
	g_autoptr(GError) error = NULL;
	gsize n = MIN(1024, t->size - t->sent);

	if (n == 0)
		return;
	g_assert_true(dfota_at_channel_write_raw(t->f->channel, t->data + t->sent, n, &error));
	g_assert_no_error(error);
	t->sent += n;
}

static void
upload_on_connect(DfotaAtChannel *channel, gpointer data)
{
	Transfer *t = data;

	t->connects++;
	upload_send_block(t);
}

static gsize
upload_on_raw(DfotaAtChannel *channel, const guint8 *data, gsize len, gpointer user_data)
{
	Transfer *t = user_data;
	gsize n = 0;

	while (n < len && data[n] == 'A') {
		n++;
		t->acked++;
		upload_send_block(t);
	}
	return n;
}

/* The module side of AT+QFUPL with ackmode 1. */
static void
upload_module_raw(PtyModule *pty, gpointer data)
{
	Transfer *t = data;

	while (t->received + 1024 <= pty->raw->len ||
	       (pty->raw->len == t->size && t->received < t->size)) {
		t->received = MIN(t->received + 1024, t->size);
		pty_module_say(pty, "A");
	}
	if (pty->raw->len == t->size && pty->raw_expected == 0) {
		guint16 sum = dfota_xor16(pty->raw->data, pty->raw->len);
		g_autofree char *fin = g_strdup_printf(
		        "\r\n+QFUPL: %" G_GSIZE_FORMAT ",%x\r\n\r\nOK\r\n", t->size, sum);
		/* a URC in the middle of the data phase's final lines */
		pty_module_say(pty, "\r\n+QIND: \"FOTA\",\"START\"");
		pty_module_say(pty, fin);
		pty->raw_expected = G_MAXSIZE; /* keep counting: nothing more may arrive */
	}
}

static void
upload_module_command(PtyModule *pty, const char *cmd, gpointer data)
{
	Transfer *t = data;

	g_assert_true(g_str_has_prefix(cmd, "AT+QFUPL="));
	pty->raw_expected = t->size;
	pty_module_say(pty, "AT+QFUPL=\"fota.pack\",2500,5,1\r\r\nCONNECT\r\n");
}

static void
test_upload(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	Transfer t = { .f = f, .size = 2500 };
	g_autofree guint8 *payload = g_malloc(t.size);
	g_autofree char *want = NULL;

	for (gsize i = 0; i < t.size; i++)
		payload[i] = (guint8)(i % 251); /* includes CR, LF, NUL and 'A' */
	t.data = payload;
	want = g_strdup_printf("+QFUPL: 2500,%x", dfota_xor16(payload, t.size));
	f->pty->on_command = upload_module_command;
	f->pty->on_raw = upload_module_raw;
	f->pty->user_data = &t;
	dfota_at_channel_send_data(f->channel, "AT+QFUPL=\"fota.pack\",2500,5,1", 2000,
	                           upload_on_connect, upload_on_raw, &t, NULL, on_sent, &r);
	wait_result(&r);
	{
		const char *const lines[] = { want, NULL };
		assert_lines(&r, lines);
	}
	g_assert_cmpuint(t.connects, ==, 1);
	g_assert_cmpuint(t.acked, ==, 3);
	g_assert_cmpuint(t.sent, ==, t.size);
	g_assert_cmpmem(f->pty->raw->data, t.size, payload, t.size);
	g_assert_true(has_urc(f, "+QIND: \"FOTA\",\"START\""));
	result_clear(&r);
}

static gsize
download_on_raw(DfotaAtChannel *channel, const guint8 *data, gsize len, gpointer user_data)
{
	Transfer *t = user_data;
	gsize n = MIN(len, t->size - t->got->len);

	g_byte_array_append(t->got, data, (guint)n);
	return n;
}

static void
download_on_connect(DfotaAtChannel *channel, gpointer data)
{
	Transfer *t = data;
	g_autoptr(GError) error = NULL;

	t->connects++;
	/* in data mode now, so raw writes are allowed (the module ignores them here) */
	g_assert_true(dfota_at_channel_write_raw(channel, "", 0, &error));
	g_assert_no_error(error);
}

static void
download_module_command(PtyModule *pty, const char *cmd, gpointer data)
{
	Transfer *t = data;
	g_autofree char *fin = g_strdup_printf("\r\n+QFDWL: %" G_GSIZE_FORMAT ",%x\r\n\r\nOK\r\n",
	                                       t->size, dfota_xor16(t->data, t->size));

	g_assert_cmpstr(cmd, ==, "AT+QFDWL=\"test.bin\"");
	/* CONNECT's CRLF split across writes, then the file in odd pieces */
	pty_module_say(pty, "\r\nCONNECT\r");
	while (g_main_context_iteration(NULL, FALSE))
		;
	pty_module_say(pty, "\n");
	for (gsize off = 0; off < t->size; off += 777)
		pty_module_write(pty, t->data + off, MIN(777, t->size - off));
	pty_module_say(pty, fin);
}

static void
test_download(Fixture *f, gconstpointer data)
{
	Result r = { 0 };
	Transfer t = { .f = f, .size = 3000 };
	g_autofree guint8 *file = g_malloc(t.size);
	g_autofree char *want = NULL;
	static const char trap[] = "\r\nOK\r\n+CME ERROR: 6504\r\nCONNECT\r\n";

	for (gsize i = 0; i < t.size; i++)
		file[i] = (guint8)((i * 13) ^ (i >> 3));
	/* file contents that look like lines must stay data */
	memcpy(file + 100, trap, sizeof(trap) - 1);
	file[0] = '\n';
	t.data = file;
	t.got = g_byte_array_new();
	want = g_strdup_printf("+QFDWL: 3000,%x", dfota_xor16(file, t.size));
	f->pty->on_command = download_module_command;
	f->pty->user_data = &t;
	dfota_at_channel_send_data(f->channel, "AT+QFDWL=\"test.bin\"", 2000, download_on_connect,
	                           download_on_raw, &t, NULL, on_sent, &r);
	wait_result(&r);
	{
		const char *const lines[] = { want, NULL };
		assert_lines(&r, lines);
	}
	g_assert_cmpuint(t.connects, ==, 1);
	g_assert_cmpmem(t.got->data, t.got->len, file, t.size);
	g_byte_array_unref(t.got);
	result_clear(&r);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	test_log_init();
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/at-channel/fifo", test_fifo);
	ADD("/at-channel/next-before-reply", test_next_before_reply);
	ADD("/at-channel/expected-prefix-rule", test_expected_prefix_rule);
	ADD("/at-channel/chain-prefixes", test_chain_prefixes);
	ADD("/at-channel/urc-prefix-registered", test_urc_prefix_registered);
	ADD("/at-channel/prompt-left", test_prompt_left);
	ADD("/at-channel/connect-left", test_connect_left);
	ADD("/at-channel/echo-and-urc-between", test_echo_and_urc_between);
	ADD("/at-channel/fragmentation-noise", test_fragmentation_noise);
	ADD("/at-channel/bounded-queue", test_bounded_queue);
	ADD("/at-channel/errors", test_errors);
	ADD("/at-channel/timeout-resync", test_timeout_resync);
	ADD("/at-channel/probe-timeout-backoff", test_probe_timeout_backoff);
	ADD("/at-channel/timer-rearmed", test_timer_rearmed);
	ADD("/at-channel/cancel", test_cancel);
	ADD("/at-channel/cancel-shared", test_cancel_shared);
	ADD("/at-channel/lost", test_lost);
	ADD("/at-channel/shutdown", test_shutdown);
	ADD("/at-channel/upload", test_upload);
	ADD("/at-channel/download", test_download);
#undef ADD
	return g_test_run();
}
