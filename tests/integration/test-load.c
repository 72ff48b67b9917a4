// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-load.c: load and fairness: 50 clients on their own connections, 100
 * Command calls each, while URCs stream in; every answer belongs to its request, nobody
 * starves, a client that leaves mid-call disturbs nobody; Command during a job is Busy at
 * once. */
#include "fault-helpers.h"

#define N_CLIENTS 50
#define N_CALLS 100

static const char *const idents[] = { "AT+CGSN=1", "ATI", "AT+CESQ", "AT+COPS?" };
static const char *const marks[] = { "+CGSN: 866971030012345", "Quectel_BC65",
	                             "+CESQ: ", "+COPS: " };

typedef struct {
	GDBusConnection *conn;
	guint index;
	guint sent;
	guint answered;
	guint wrong;
	gint64 finished_us;
	char *first_error;
} Client;

typedef struct {
	Client clients[N_CLIENTS];
	guint done;
	gint64 start_us;
} Load;

static void send_next(Client *c);

static Load *the_load; /* the callbacks' way back to the totals: one load per test */

static void
on_reply(GObject *source, GAsyncResult *res, gpointer data)
{
	Client *c = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) ret =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
	guint k = (c->index + c->answered) % G_N_ELEMENTS(idents);

	if (ret == NULL) {
		c->wrong++;
		if (c->first_error == NULL)
			c->first_error = g_strdup(error->message);
	} else {
		const char *response;

		g_variant_get(ret, "(&s)", &response);
		for (guint i = 0; i < G_N_ELEMENTS(marks); i++) {
			gboolean has = strstr(response, marks[i]) != NULL;

			if ((i == k) != has || strstr(response, "LOAD") != NULL) {
				c->wrong++;
				if (c->first_error == NULL)
					c->first_error = g_strdup_printf("%s answered \"%s\"",
					                                 idents[k], response);
				break;
			}
		}
	}
	c->answered++;
	if (c->answered == N_CALLS) {
		c->finished_us = g_get_monotonic_time();
		the_load->done++;
		g_main_context_wakeup(NULL);
		return;
	}
	send_next(c);
}

/* One call outstanding per client: the queue holds at most one command of each. */
static void
send_next(Client *c)
{
	guint k = (c->index + c->sent) % G_N_ELEMENTS(idents);

	c->sent++;
	g_dbus_connection_call(c->conn, HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_MODEM,
	                       "Command", g_variant_new("(su)", idents[k], 0),
	                       G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, 120000, NULL,
	                       on_reply, c);
}

static gboolean
cond_all_done(Harness *h, gpointer data)
{
	return ((Load *)data)->done == N_CLIENTS;
}

static void
on_dropped_reply(GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GVariant) ret =
	        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, NULL);
	guint *n = data;

	(*n)++;
}

static gboolean
cond_urcs(Harness *h, gpointer data)
{
	guint want = GPOINTER_TO_UINT(data);
	g_autoptr(GPtrArray) events = harness_events(h, 0);
	guint n = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *line;

		if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Urc") != 0)
			continue;
		g_variant_get(ev->body, "(&s)", &line);
		if (strstr(line, "LOAD") != NULL)
			n++;
	}
	return n >= want;
}

static void
test_clients(void)
{
	/* Each client has one call outstanding: the waiting queue must hold 50. */
	const char *const keys[] = { "max-queue=64", NULL };
	HarnessOptions opts = { .daemon_keys = keys };
	g_autoptr(Harness) h = harness_new(&opts);
	Load *load = g_new0(Load, 1);
	GDBusConnection *leaver;
	guint leaver_replies = 0;
	guint urcs = 0, wrong = 0;
	gint64 first_us = G_MAXINT64, last_us = 0;

	the_load = load;
	for (guint i = 0; i < N_CLIENTS; i++) {
		load->clients[i].conn = harness_new_client(h);
		load->clients[i].index = i;
	}
	load->start_us = g_get_monotonic_time();
	for (guint i = 0; i < N_CLIENTS; i++)
		send_next(&load->clients[i]);

	/* A client that sends and leaves while its calls wait or are in flight. */
	leaver = harness_new_client(h);
	for (guint i = 0; i < 10; i++)
		g_dbus_connection_call(
		        leaver, HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_MODEM,
		        "Command", g_variant_new("(su)", idents[i % 4], 0), NULL,
		        G_DBUS_CALL_FLAGS_NONE, 60000, NULL, on_dropped_reply, &leaver_replies);
	g_dbus_connection_flush_sync(leaver, NULL, NULL);
	g_dbus_connection_close_sync(leaver, NULL, NULL);

	/* URCs stream while the clients run. */
	while (load->done < N_CLIENTS &&
	       g_get_monotonic_time() - load->start_us < 150 * G_USEC_PER_SEC) {
		harness_control(h, "urc +QNBIOTEVENT: \"LOAD %u\"", urcs);
		urcs++;
	}
	g_assert_true(harness_wait(h, cond_all_done, load, 30000, "all clients"));
	g_assert_true(harness_wait(h, cond_urcs, GUINT_TO_POINTER(urcs), 20000, "the URCs"));

	for (guint i = 0; i < N_CLIENTS; i++) {
		Client *c = &load->clients[i];

		if (c->wrong)
			g_test_message("client %u: %u wrong, first: %s", i, c->wrong,
			               c->first_error);
		wrong += c->wrong;
		first_us = MIN(first_us, c->finished_us);
		last_us = MAX(last_us, c->finished_us);
		g_assert_cmpuint(c->answered, ==, N_CALLS);
	}
	g_test_message("%u calls in %.2f s; first client done after %.2f s, last after %.2f s; "
	               "%u URCs streamed; the leaving client saw %u replies",
	               N_CLIENTS * N_CALLS, (last_us - load->start_us) / 1e6,
	               (first_us - load->start_us) / 1e6, (last_us - load->start_us) / 1e6, urcs,
	               leaver_replies);
	g_assert_cmpuint(wrong, ==, 0);
	/* FIFO: every client is served once per round, so they all finish close together;
	 * a starved client would finish far later than the first. */
	g_assert_cmpint(first_us - load->start_us, >=, (last_us - load->start_us) / 2);
	g_assert_cmpuint(urcs, >, 0);

	for (guint i = 0; i < N_CLIENTS; i++) {
		g_dbus_connection_close_sync(load->clients[i].conn, NULL, NULL);
		g_object_unref(load->clients[i].conn);
		g_free(load->clients[i].first_error);
	}
	g_object_unref(leaver);
	g_free(load);
	the_load = NULL;
	/* And the daemon still answers. */
	{
		g_autoptr(GError) error = NULL;
		g_autofree char *r = harness_command(h, NULL, "AT+CGSN=1", 0, &error);

		g_assert_no_error(error);
		g_assert_nonnull(strstr(r, marks[0]));
	}
}

/* While a job owns the modem, Command is refused with Busy at once, from every client. */
static void
test_busy_during_job(void)
{
	const char *const sim_args[] = { "--time-scale", "0.5", NULL };
	HarnessOptions opts = { .sim_args = sim_args };
	g_autoptr(Harness) h = harness_new(&opts);
	g_autoptr(GDBusConnection) other = harness_new_client(h);
	g_autofree char *url = NULL;
	g_autoptr(GVariant) result = NULL;
	guint64 since;
	gint64 worst_us = 0;

	harness_make_package(h, "update.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "update.pack");
	since = harness_mark(h);
	fh_upgrade(h, url);
	g_assert_true(fh_wait_progress(h, since, "downloading", 10, 30000));
	for (guint i = 0; i < 20; i++) {
		g_autoptr(GError) error = NULL;
		gint64 t0 = g_get_monotonic_time();
		g_autofree char *r =
		        harness_command(h, i % 2 ? other : NULL, idents[i % 4], 30000, &error);

		worst_us = MAX(worst_us, g_get_monotonic_time() - t0);
		harness_assert_error(error, "Busy");
	}
	g_test_message("slowest Busy answer: %.1f ms", worst_us / 1000.0);
	g_assert_cmpint(worst_us, <, G_USEC_PER_SEC);
	/* The job was not disturbed. */
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 0);
	result = harness_wait_finished(h, since, 60000);
	g_assert_true(harness_dict_bool(result, "success"));
	g_assert_cmpstr(harness_dict_str(result, "to-revision"), ==, HARNESS_REV_TO);
}

int
main(int argc, char **argv)
{
	fh_test_init(&argc, &argv);
	g_test_add_func("/load/50-clients", test_clients);
	g_test_add_func("/load/busy-during-job", test_busy_during_job);
	return g_test_run();
}
