// SPDX-License-Identifier: LGPL-2.1-or-later
/* harness-bus.c: the D-Bus side of the integration harness: recording messages in wire
 * order, calls, properties, waits on signals, and small a{sv} helpers. */
#include "harness-private.h"

#include <string.h>

/* Runs in GDBus's worker thread for every message of the main connection, in wire order. */
GDBusMessage *
harness_record_filter(GDBusConnection *conn, GDBusMessage *msg, gboolean incoming, gpointer data)
{
	Harness *h = data;
	GDBusMessageType type = g_dbus_message_get_message_type(msg);
	HarnessEvent *ev;
	GVariant *body;

	if (!incoming ||
	    (type != G_DBUS_MESSAGE_TYPE_SIGNAL && type != G_DBUS_MESSAGE_TYPE_METHOD_RETURN &&
	     type != G_DBUS_MESSAGE_TYPE_ERROR))
		return msg;

	ev = g_new0(HarnessEvent, 1);
	ev->time_us = g_get_monotonic_time();
	body = g_dbus_message_get_body(msg);
	ev->body = body != NULL ? g_variant_ref(body) : g_variant_ref_sink(g_variant_new("()"));
	if (type == G_DBUS_MESSAGE_TYPE_SIGNAL) {
		ev->type = HARNESS_EVENT_SIGNAL;
		ev->path = g_strdup(g_dbus_message_get_path(msg));
		ev->iface = g_strdup(g_dbus_message_get_interface(msg));
		ev->member = g_strdup(g_dbus_message_get_member(msg));
	} else {
		ev->type = HARNESS_EVENT_REPLY;
		ev->member = g_strdup(g_dbus_message_get_error_name(msg));
		ev->reply_serial = g_dbus_message_get_reply_serial(msg);
	}
	g_mutex_lock(&h->lock);
	ev->seq = h->next_seq++;
	if (ev->type == HARNESS_EVENT_SIGNAL)
		h->n_signals++;
	g_ptr_array_add(h->events, ev);
	g_mutex_unlock(&h->lock);
	g_main_context_wakeup(NULL);
	return msg;
}

void
harness_on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                  const char *member, GVariant *params, gpointer data)
{
	/* Recorded by harness_record_filter() already, in wire order. */
}

void
harness_event_free(gpointer data)
{
	HarnessEvent *ev = data;

	g_free(ev->path);
	g_free(ev->iface);
	g_free(ev->member);
	g_variant_unref(ev->body);
	g_free(ev);
}

void
harness_on_name_appeared(GDBusConnection *c, const char *name, const char *owner, gpointer data)
{
	((Harness *)data)->name_owned = TRUE;
}

void
harness_on_name_vanished(GDBusConnection *c, const char *name, gpointer data)
{
	((Harness *)data)->name_owned = FALSE;
}

GDBusConnection *
harness_new_client(Harness *h)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
	        h->bus_address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);

	g_assert_no_error(error);
	return conn;
}

GVariant *
harness_call(Harness *h, GDBusConnection *conn, const char *iface, const char *method,
             GVariant *params, guint32 *out_serial, GError **error)
{
	g_autoptr(GDBusMessage) msg =
	        g_dbus_message_new_method_call(HARNESS_BUS_NAME, HARNESS_MODEM_PATH, iface, method);
	g_autoptr(GDBusMessage) reply = NULL;
	GVariant *body;

	if (params != NULL)
		g_dbus_message_set_body(msg, params);
	reply = g_dbus_connection_send_message_with_reply_sync(
	        conn != NULL ? conn : h->bus, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE, CALL_TIMEOUT_MS,
	        out_serial, NULL, error);
	if (reply == NULL || g_dbus_message_to_gerror(reply, error))
		return NULL;
	body = g_dbus_message_get_body(reply);
	return body != NULL ? g_variant_ref(body) : g_variant_ref_sink(g_variant_new("()"));
}

char *
harness_command(Harness *h, GDBusConnection *conn, const char *command, guint timeout_ms,
                GError **error)
{
	g_autoptr(GVariant) ret =
	        harness_call(h, conn, HARNESS_IFACE_MODEM, "Command",
	                     g_variant_new("(su)", command, timeout_ms), NULL, error);
	char *response = NULL;

	if (ret == NULL)
		return NULL;
	g_assert_cmpstr(g_variant_get_type_string(ret), ==, "(s)");
	g_variant_get(ret, "(s)", &response);
	return response;
}

static GVariant *
get_property(Harness *h, const char *iface, const char *name, GError **error)
{
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        h->bus, HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_PROPS, "Get",
	        g_variant_new("(ss)", iface, name), G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE,
	        CALL_TIMEOUT_MS, NULL, error);
	GVariant *value = NULL;

	if (ret != NULL)
		g_variant_get(ret, "(v)", &value);
	return value;
}

GVariant *
harness_get_property(Harness *h, const char *iface, const char *name)
{
	g_autoptr(GError) error = NULL;
	GVariant *value = get_property(h, iface, name, &error);

	g_assert_no_error(error);
	return value;
}

typedef struct {
	const char *iface;
	const char *name;
	GVariant *expected;
	gboolean (*pred)(GVariant *value);
	guint64 checked_at; /* signals seen when last read: re-read only after a new signal */
	gboolean first;
} PropWait;

static gboolean
cond_property(Harness *h, gpointer data)
{
	PropWait *pw = data;
	g_autoptr(GVariant) value = NULL;
	guint64 n_signals;

	g_mutex_lock(&h->lock);
	n_signals = h->n_signals;
	g_mutex_unlock(&h->lock);
	/* Only a signal (PropertiesChanged, InterfacesAdded, …) can make a re-read worth it. */
	if (!pw->first && n_signals == pw->checked_at)
		return FALSE;
	pw->first = FALSE;
	pw->checked_at = n_signals;
	value = get_property(h, pw->iface, pw->name, NULL);
	if (value == NULL)
		return FALSE;
	return pw->pred != NULL ? pw->pred(value) : g_variant_equal(value, pw->expected);
}

gboolean
harness_wait_property(Harness *h, const char *iface, const char *name, GVariant *expected,
                      guint timeout_ms)
{
	g_autoptr(GVariant) sunk = g_variant_ref_sink(expected);
	g_autofree char *what = NULL;
	g_autofree char *printed = g_variant_print(sunk, FALSE);
	PropWait pw = { iface, name, sunk, NULL, 0, TRUE };

	what = g_strdup_printf("%s.%s == %s", iface, name, printed);
	return harness_wait(h, cond_property, &pw, timeout_ms, what);
}

gboolean
harness_wait_property_cond(Harness *h, const char *iface, const char *name,
                           gboolean (*pred)(GVariant *value), guint timeout_ms)
{
	g_autofree char *what = g_strdup_printf("a condition on %s.%s", iface, name);
	PropWait pw = { iface, name, NULL, pred, 0, TRUE };

	return harness_wait(h, cond_property, &pw, timeout_ms, what);
}

guint64
harness_mark(Harness *h)
{
	guint64 mark;

	g_mutex_lock(&h->lock);
	mark = h->next_seq;
	g_mutex_unlock(&h->lock);
	return mark;
}

GPtrArray *
harness_events(Harness *h, guint64 since)
{
	GPtrArray *out = g_ptr_array_new();

	g_mutex_lock(&h->lock);
	for (guint i = 0; i < h->events->len; i++) {
		HarnessEvent *ev = h->events->pdata[i];

		if (ev->seq >= since)
			g_ptr_array_add(out, ev);
	}
	g_mutex_unlock(&h->lock);
	return out;
}

guint
harness_count_signals(Harness *h, guint64 since, const char *iface, const char *member)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	guint n = 0;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];

		if (ev->type == HARNESS_EVENT_SIGNAL &&
		    g_strcmp0(ev->path, HARNESS_MODEM_PATH) == 0 &&
		    g_strcmp0(ev->iface, iface) == 0 && g_strcmp0(ev->member, member) == 0)
			n++;
	}
	return n;
}

typedef struct {
	guint64 since;
	const char *iface;
	const char *member;
	guint n;
} SignalWait;

static gboolean
cond_signals(Harness *h, gpointer data)
{
	SignalWait *sw = data;

	return harness_count_signals(h, sw->since, sw->iface, sw->member) >= sw->n;
}

gboolean
harness_wait_signals(Harness *h, guint64 since, const char *iface, const char *member, guint n,
                     guint timeout_ms)
{
	SignalWait sw = { since, iface, member, n };
	g_autofree char *what = g_strdup_printf("%u %s.%s signal(s)", n, iface, member);

	return harness_wait(h, cond_signals, &sw, timeout_ms, what);
}

void
harness_round_trip(Harness *h)
{
	g_autoptr(GVariant) v = harness_get_property(h, HARNESS_IFACE_FOTA, "Phase");
}

GVariant *
harness_wait_finished(Harness *h, guint64 since, guint timeout_ms)
{
	g_autoptr(GPtrArray) events = NULL;
	GVariant *result = NULL;

	g_assert_true(
	        harness_wait_signals(h, since, HARNESS_IFACE_FOTA, "Finished", 1, timeout_ms));
	/* A second Finished sent right after the first would arrive before these replies; a
	 * Command also lets the daemon digest what the module sent meanwhile. */
	harness_round_trip(h);
	g_free(harness_command(h, NULL, "AT", 0, NULL));
	harness_round_trip(h);
	g_assert_cmpuint(harness_count_signals(h, since, HARNESS_IFACE_FOTA, "Finished"), ==, 1);

	events = harness_events(h, since);
	for (guint i = 0; i < events->len && result == NULL; i++) {
		HarnessEvent *ev = events->pdata[i];

		if (ev->type == HARNESS_EVENT_SIGNAL && g_strcmp0(ev->member, "Finished") == 0 &&
		    g_strcmp0(ev->iface, HARNESS_IFACE_FOTA) == 0)
			result = g_variant_get_child_value(ev->body, 0);
	}
	g_assert_nonnull(result);
	g_assert_cmpstr(g_variant_get_type_string(result), ==, "a{sv}");
	return result;
}

void
harness_assert_error_impl(const GError *error, const char *name, const char *file, int line)
{
	g_autofree char *expected = g_strconcat(HARNESS_ERROR_PREFIX, name, NULL);
	g_autofree char *remote = NULL;

	if (error == NULL)
		g_error("%s:%d: expected %s, the call succeeded", file, line, expected);
	remote = g_dbus_error_get_remote_error(error);
	if (g_strcmp0(remote, expected) != 0)
		g_error("%s:%d: expected %s, got %s: %s", file, line, expected, remote,
		        error->message);
}

gboolean
harness_error_name_is(const char *value, const char *name)
{
	if (value == NULL)
		return FALSE;
	if (g_str_has_prefix(value, HARNESS_ERROR_PREFIX))
		value += strlen(HARNESS_ERROR_PREFIX);
	return strcmp(value, name) == 0;
}

static GVariant *
dict_lookup(GVariant *dict, const char *key, const GVariantType *type)
{
	GVariant *value = g_variant_lookup_value(dict, key, NULL);

	if (value == NULL)
		g_error("key \"%s\" missing from %s", key, g_variant_print(dict, TRUE));
	if (!g_variant_is_of_type(value, type))
		g_error("key \"%s\" has type %s, expected %.*s", key,
		        g_variant_get_type_string(value),
		        (int)g_variant_type_get_string_length(type),
		        g_variant_type_peek_string(type));
	return value;
}

const char *
harness_dict_str(GVariant *dict, const char *key)
{
	g_autoptr(GVariant) v = dict_lookup(dict, key, G_VARIANT_TYPE_STRING);

	/* The string lives as long as @dict, which holds a reference to it. */
	return g_variant_get_string(v, NULL);
}

gboolean
harness_dict_bool(GVariant *dict, const char *key)
{
	g_autoptr(GVariant) v = dict_lookup(dict, key, G_VARIANT_TYPE_BOOLEAN);

	return g_variant_get_boolean(v);
}

gint32
harness_dict_int(GVariant *dict, const char *key)
{
	g_autoptr(GVariant) v = dict_lookup(dict, key, G_VARIANT_TYPE_INT32);

	return g_variant_get_int32(v);
}

guint64
harness_dict_uint64(GVariant *dict, const char *key)
{
	g_autoptr(GVariant) v = dict_lookup(dict, key, G_VARIANT_TYPE_UINT64);

	return g_variant_get_uint64(v);
}

void
harness_message_variant(const char *what, GVariant *value)
{
	g_autofree char *printed = g_variant_print(value, TRUE);

	g_test_message("%s: %s", what, printed);
}
