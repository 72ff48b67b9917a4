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

void
do_upgrade(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &url);
	dfota_fota_upgrade(e->fota, url, job_started, g_object_ref(invocation));
}

void
do_upgrade_local(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	dfota_fota_upgrade_local(e->fota, job_started, g_object_ref(invocation));
}

void
do_fetch_mcu_file(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url, *filename;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&s)", &url,
	              &filename);
	dfota_fota_fetch_mcu_file(e->fota, url, filename, job_started, g_object_ref(invocation));
}

void
do_upgrade_via_host(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	const char *url;
	g_autoptr(GVariant) options = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &url,
	              &options);
	dfota_fota_upgrade_via_host(e->fota, url, options, job_started, g_object_ref(invocation));
}

void
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

void
do_cancel(ModemEntry *e, GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;

	dfota_fota_cancel(e->fota, &error);
	return_error_or_empty(invocation, error);
}
