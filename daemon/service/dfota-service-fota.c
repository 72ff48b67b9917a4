// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-service-fota.c: the org.dfotad1.Fota methods. */
#include "dfota-service-private.h"

#include "dfota-error.h"

/* ---- org.dfotad1.Fota --------------------------------------------------------------------------- */

static void
job_started(GError *error, gpointer user_data)
{
	g_autoptr(GDBusMethodInvocation) invocation = user_data;

	return_error_or_empty(invocation, error);
}

static void
do_upgrade(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &url);
	dfota_fota_upgrade(e->fota, url, job_started, g_object_ref(invocation));
}

static void
do_upgrade_with_options(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;
	g_autoptr(GVariant) options = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &url,
	              &options);
	dfota_fota_upgrade_with_options(e->fota, url, options, job_started,
	                                g_object_ref(invocation));
}

static void
do_upgrade_local(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	dfota_fota_upgrade_local(e->fota, job_started, g_object_ref(invocation));
}

static void
do_fetch_mcu_file(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url, *filename;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&s)", &url,
	              &filename);
	dfota_fota_fetch_mcu_file(e->fota, url, filename, job_started, g_object_ref(invocation));
}

static void
do_upgrade_via_host(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;
	g_autoptr(GVariant) options = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &url,
	              &options);
	dfota_fota_upgrade_via_host(e->fota, url, options, job_started, g_object_ref(invocation));
}

static void
do_upgrade_from_file(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	gint32 handle;
	g_autoptr(GVariant) options = NULL;
	int fd;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(h@a{sv})", &handle,
	              &options);
	fd = take_fd(invocation, handle);
	if (fd < 0)
		return;
	dfota_fota_upgrade_from_fd(e->fota, fd, options, job_started, g_object_ref(invocation));
}

static void
do_cancel(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;

	dfota_fota_cancel(e->fota, &error);
	return_error_or_empty(invocation, error);
}

HANDLER_1(upgrade, const char *)
HANDLER_0(upgrade_local)
HANDLER_2(upgrade_with_options, const char *, GVariant *)
HANDLER_2(fetch_mcu_file, const char *, const char *)
HANDLER_2(upgrade_via_host, const char *, GVariant *)
HANDLER_2(upgrade_from_file, GVariant *, GVariant *)
HANDLER_0(cancel)

void
service_fota_connect(ModemEntry *e)
{
	g_signal_connect(e->ifota, "handle-upgrade", G_CALLBACK(on_upgrade), e);
	g_signal_connect(e->ifota, "handle-upgrade-local", G_CALLBACK(on_upgrade_local), e);
	g_signal_connect(e->ifota, "handle-upgrade-with-options",
	                 G_CALLBACK(on_upgrade_with_options), e);
	g_signal_connect(e->ifota, "handle-fetch-mcu-file", G_CALLBACK(on_fetch_mcu_file), e);
	g_signal_connect(e->ifota, "handle-upgrade-via-host", G_CALLBACK(on_upgrade_via_host), e);
	g_signal_connect(e->ifota, "handle-upgrade-from-file", G_CALLBACK(on_upgrade_from_file), e);
	g_signal_connect(e->ifota, "handle-cancel", G_CALLBACK(on_cancel), e);
}
