// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ports.c: serial port enumeration (libserialport) and a pure matcher over it. */
#include "dfota-ports.h"

#include <gio/gio.h>
#include <libserialport.h>
#include <stdlib.h>

void
dfota_port_info_free(DfotaPortInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->path);
	g_free(info->transport);
	g_free(info->usb_manufacturer);
	g_free(info->usb_product);
	g_free(info->usb_serial);
	g_free(info);
}

static const char *
transport_name(enum sp_transport transport)
{
	switch (transport) {
	case SP_TRANSPORT_USB:
		return "usb";
	case SP_TRANSPORT_BLUETOOTH:
		return "bluetooth";
	case SP_TRANSPORT_NATIVE:
	default:
		return "native";
	}
}

GPtrArray *
dfota_ports_enumerate(void)
{
	GPtrArray *result = g_ptr_array_new_with_free_func((GDestroyNotify)dfota_port_info_free);
	struct sp_port **list = NULL;

	if (sp_list_ports(&list) != SP_OK) {
		char *msg = sp_last_error_message();
		g_warning("Cannot enumerate serial ports: %s", msg ? msg : "unknown error");
		sp_free_error_message(msg);
		return result;
	}
	for (gsize i = 0; list[i] != NULL; i++) {
		struct sp_port *port = list[i];
		DfotaPortInfo *info = g_new0(DfotaPortInfo, 1);
		enum sp_transport transport = sp_get_port_transport(port);

		info->path = g_strdup(sp_get_port_name(port));
		info->transport = g_strdup(transport_name(transport));
		if (transport == SP_TRANSPORT_USB) {
			int vid = 0, pid = 0;
			if (sp_get_port_usb_vid_pid(port, &vid, &pid) == SP_OK) {
				info->usb_vid = (guint16)vid;
				info->usb_pid = (guint16)pid;
			}
			info->usb_manufacturer = g_strdup(sp_get_port_usb_manufacturer(port));
			info->usb_product = g_strdup(sp_get_port_usb_product(port));
			info->usb_serial = g_strdup(sp_get_port_usb_serial(port));
		}
		g_ptr_array_add(result, info);
	}
	sp_free_port_list(list);
	return result;
}

static gboolean
port_matches(const DfotaPortInfo *info, const DfotaPortMatch *match)
{
	if (match->usb_serial != NULL &&
	    (info->usb_serial == NULL || g_strcmp0(info->usb_serial, match->usb_serial) != 0))
		return FALSE;
	if (match->usb_vid != 0 && info->usb_vid != match->usb_vid)
		return FALSE;
	if (match->usb_pid != 0 && info->usb_pid != match->usb_pid)
		return FALSE;
	return TRUE;
}

static char *
describe_match(const DfotaPortMatch *match)
{
	GString *s = g_string_new(NULL);

	if (match->usb_serial)
		g_string_append_printf(s, "usb-serial=%s ", match->usb_serial);
	if (match->usb_vid)
		g_string_append_printf(s, "usb-vid=%04x ", match->usb_vid);
	if (match->usb_pid)
		g_string_append_printf(s, "usb-pid=%04x ", match->usb_pid);
	if (s->len == 0)
		g_string_append(s, "any port ");
	g_string_truncate(s, s->len - 1);
	return g_string_free(s, FALSE);
}

const DfotaPortInfo *
dfota_ports_match(GPtrArray *ports, const DfotaPortMatch *match, GError **error)
{
	const DfotaPortInfo *found = NULL;
	guint count = 0;
	g_autoptr(GString) paths = g_string_new(NULL);

	for (guint i = 0; ports != NULL && i < ports->len; i++) {
		const DfotaPortInfo *info = g_ptr_array_index(ports, i);
		if (!port_matches(info, match))
			continue;
		if (count++ == 0)
			found = info;
		g_string_append_printf(paths, "%s%s", paths->len ? ", " : "", info->path);
	}
	if (count == 1)
		return found;
	{
		g_autofree char *what = describe_match(match);
		if (count == 0)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			            "No serial port matches %s: check that the adapter is "
			            "plugged in",
			            what);
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "%u serial ports match %s (%s): name the adapter with "
			            "usb-serial",
			            count, what, paths->str);
	}
	return NULL;
}

const DfotaPortInfo *
dfota_ports_find_path(GPtrArray *ports, const char *path)
{
	g_autofree char *real = realpath(path, NULL);

	for (guint i = 0; ports != NULL && i < ports->len; i++) {
		const DfotaPortInfo *info = g_ptr_array_index(ports, i);
		g_autofree char *info_real = NULL;

		if (g_strcmp0(info->path, path) == 0 || g_strcmp0(info->path, real) == 0)
			return info;
		info_real = realpath(info->path, NULL);
		if (info_real != NULL && real != NULL && g_str_equal(info_real, real))
			return info;
	}
	return NULL;
}

/* USB descriptor strings come from the device: never trust them to be UTF-8. */
static GVariant *
safe_string(const char *s)
{
	g_autofree char *valid = g_utf8_make_valid(s, -1);
	return g_variant_new_string(valid);
}

GVariant *
dfota_port_info_to_variant(const DfotaPortInfo *info)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	if (info == NULL)
		return g_variant_builder_end(&b);
	if (info->transport)
		g_variant_builder_add(&b, "{sv}", "transport", safe_string(info->transport));
	if (g_strcmp0(info->transport, "usb") == 0) {
		g_variant_builder_add(&b, "{sv}", "usb-vid", g_variant_new_uint16(info->usb_vid));
		g_variant_builder_add(&b, "{sv}", "usb-pid", g_variant_new_uint16(info->usb_pid));
		if (info->usb_manufacturer)
			g_variant_builder_add(&b, "{sv}", "usb-manufacturer",
			                      safe_string(info->usb_manufacturer));
		if (info->usb_product)
			g_variant_builder_add(&b, "{sv}", "usb-product",
			                      safe_string(info->usb_product));
		if (info->usb_serial)
			g_variant_builder_add(&b, "{sv}", "usb-serial",
			                      safe_string(info->usb_serial));
	}
	return g_variant_builder_end(&b);
}
