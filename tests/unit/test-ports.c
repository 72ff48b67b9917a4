// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-ports.c: the port matcher over made-up lists, the Device variant, enumeration. */
#include <gio/gio.h>
#include <unistd.h>

#include "dfota-ports.h"

static DfotaPortInfo *
make_port(const char *path, const char *transport, guint16 vid, guint16 pid, const char *serial)
{
	DfotaPortInfo *info = g_new0(DfotaPortInfo, 1);

	info->path = g_strdup(path);
	info->transport = g_strdup(transport);
	info->usb_vid = vid;
	info->usb_pid = pid;
	info->usb_serial = g_strdup(serial);
	if (g_strcmp0(transport, "usb") == 0) {
		info->usb_manufacturer = g_strdup("FTDI");
		info->usb_product = g_strdup("FT232R USB UART");
	}
	return info;
}

static GPtrArray *
make_ports(void)
{
	GPtrArray *ports = g_ptr_array_new_with_free_func((GDestroyNotify)dfota_port_info_free);

	g_ptr_array_add(ports, make_port("/dev/ttyS0", "native", 0, 0, NULL));
	g_ptr_array_add(ports, make_port("/dev/ttyUSB0", "usb", 0x0403, 0x6001, "A1B2C3"));
	g_ptr_array_add(ports, make_port("/dev/ttyUSB1", "usb", 0x0403, 0x6001, "D4E5F6"));
	g_ptr_array_add(ports, make_port("/dev/ttyUSB2", "usb", 0x2c7c, 0x0125, "QCTL01"));
	return ports;
}

static void
test_match(void)
{
	g_autoptr(GPtrArray) ports = make_ports();
	g_autoptr(GError) error = NULL;
	const DfotaPortInfo *found;
	DfotaPortMatch m = { 0 };

	/* unique by serial */
	m.usb_serial = "D4E5F6";
	found = dfota_ports_match(ports, &m, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found->path, ==, "/dev/ttyUSB1");

	/* unique by vid/pid only */
	m = (DfotaPortMatch){ .usb_vid = 0x2c7c, .usb_pid = 0x0125 };
	found = dfota_ports_match(ports, &m, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found->path, ==, "/dev/ttyUSB2");

	/* serial and vid/pid together */
	m = (DfotaPortMatch){ .usb_serial = "A1B2C3", .usb_vid = 0x0403, .usb_pid = 0x6001 };
	found = dfota_ports_match(ports, &m, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found->path, ==, "/dev/ttyUSB0");

	/* none: serial with the wrong vid */
	m = (DfotaPortMatch){ .usb_serial = "A1B2C3", .usb_vid = 0x2c7c };
	g_assert_null(dfota_ports_match(ports, &m, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "usb-serial=A1B2C3"));
	g_clear_error(&error);

	/* none: unknown serial */
	m = (DfotaPortMatch){ .usb_serial = "NOPE" };
	g_assert_null(dfota_ports_match(ports, &m, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* ambiguous: two FTDI adapters, the message names both and says what to do */
	m = (DfotaPortMatch){ .usb_vid = 0x0403, .usb_pid = 0x6001 };
	g_assert_null(dfota_ports_match(ports, &m, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
	g_assert_nonnull(strstr(error->message, "/dev/ttyUSB0"));
	g_assert_nonnull(strstr(error->message, "/dev/ttyUSB1"));
	g_assert_nonnull(strstr(error->message, "usb-serial"));
	g_clear_error(&error);

	/* an empty list */
	{
		g_autoptr(GPtrArray) none = g_ptr_array_new();
		m = (DfotaPortMatch){ .usb_serial = "A1B2C3" };
		g_assert_null(dfota_ports_match(none, &m, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		g_clear_error(&error);
	}
}

static void
test_find_path(void)
{
	g_autoptr(GPtrArray) ports =
	        g_ptr_array_new_with_free_func((GDestroyNotify)dfota_port_info_free);
	g_autofree char *dir = g_dir_make_tmp("dfota-ports-XXXXXX", NULL);
	g_autofree char *target = g_build_filename(dir, "ttyFAKE0", NULL);
	g_autofree char *link = g_build_filename(dir, "modem", NULL);

	g_assert_true(g_file_set_contents(target, "", 0, NULL));
	g_assert_cmpint(symlink(target, link), ==, 0);
	g_ptr_array_add(ports, make_port(target, "usb", 1, 2, "S"));
	g_assert_nonnull(dfota_ports_find_path(ports, target));
	g_assert_true(dfota_ports_find_path(ports, link) == g_ptr_array_index(ports, 0));
	g_assert_null(dfota_ports_find_path(ports, "/dev/does-not-exist"));
	unlink(link);
	unlink(target);
	rmdir(dir);
}

static void
test_variant(void)
{
	g_autoptr(GPtrArray) ports = make_ports();
	g_autoptr(GVariant) empty = g_variant_ref_sink(dfota_port_info_to_variant(NULL));
	g_autoptr(GVariant) native =
	        g_variant_ref_sink(dfota_port_info_to_variant(g_ptr_array_index(ports, 0)));
	g_autoptr(GVariant) usb =
	        g_variant_ref_sink(dfota_port_info_to_variant(g_ptr_array_index(ports, 1)));
	g_autoptr(GVariantDict) d = NULL;
	guint16 q = 0;
	const char *s = NULL;

	g_assert_true(g_variant_is_of_type(empty, G_VARIANT_TYPE("a{sv}")));
	g_assert_cmpuint(g_variant_n_children(empty), ==, 0);

	d = g_variant_dict_new(native);
	g_assert_true(g_variant_dict_lookup(d, "transport", "&s", &s));
	g_assert_cmpstr(s, ==, "native");
	g_assert_false(g_variant_dict_contains(d, "usb-vid"));
	g_clear_pointer(&d, g_variant_dict_unref);

	d = g_variant_dict_new(usb);
	g_assert_true(g_variant_dict_lookup(d, "transport", "&s", &s));
	g_assert_cmpstr(s, ==, "usb");
	g_assert_true(g_variant_dict_lookup(d, "usb-vid", "q", &q));
	g_assert_cmpuint(q, ==, 0x0403);
	g_assert_true(g_variant_dict_lookup(d, "usb-pid", "q", &q));
	g_assert_cmpuint(q, ==, 0x6001);
	g_assert_true(g_variant_dict_lookup(d, "usb-manufacturer", "&s", &s));
	g_assert_cmpstr(s, ==, "FTDI");
	g_assert_true(g_variant_dict_lookup(d, "usb-product", "&s", &s));
	g_assert_cmpstr(s, ==, "FT232R USB UART");
	g_assert_true(g_variant_dict_lookup(d, "usb-serial", "&s", &s));
	g_assert_cmpstr(s, ==, "A1B2C3");

	/* a device with a broken descriptor string still gives a valid variant */
	{
		g_autoptr(DfotaPortInfo) bad = make_port("/dev/ttyUSB9", "usb", 1, 2, "\xff\xfe");
		g_autoptr(GVariant) v = g_variant_ref_sink(dfota_port_info_to_variant(bad));
		g_assert_true(g_variant_is_normal_form(v));
	}
}

static void
test_enumerate(void)
{
	/* Whatever the machine has: each entry is complete and usb fields are consistent. */
	g_autoptr(GPtrArray) ports = dfota_ports_enumerate();

	g_assert_nonnull(ports);
	for (guint i = 0; i < ports->len; i++) {
		const DfotaPortInfo *info = g_ptr_array_index(ports, i);
		g_assert_nonnull(info->path);
		g_assert_true(g_str_equal(info->transport, "native") ||
		              g_str_equal(info->transport, "usb") ||
		              g_str_equal(info->transport, "bluetooth"));
		if (!g_str_equal(info->transport, "usb"))
			g_assert_cmpuint(info->usb_vid, ==, 0);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ports/match", test_match);
	g_test_add_func("/ports/find-path", test_find_path);
	g_test_add_func("/ports/variant", test_variant);
	g_test_add_func("/ports/enumerate", test_enumerate);
	return g_test_run();
}
