// SPDX-License-Identifier: LGPL-2.1-or-later
/* Simulator firmware package format.
 *
 * Real delta packages are opaque Quectel blobs. The simulator uses its own small format so that
 * tests can build packages for any source/target revision and the simulator can verify them:
 *
 *     DFOTA-SIM-PACKAGE 1\n
 *     model: BC65\n
 *     from: BC65JAR01A01\n
 *     to: BC65JAR01A02\n
 *     payload-size: <N>\n
 *     payload-xor16: <4 lowercase hex digits>\n
 *     \n
 *     <N payload bytes>
 *
 * - Header lines are exactly in this order, each terminated by a single LF, values without
 *   surrounding spaces; an empty line ends the header.
 * - payload-xor16 is the XOR of the payload taken as 16-bit big-endian words, a final odd byte
 *   counting as the high byte (the same checksum the module reports for AT+QFUPL/AT+QFDWL).
 * - The file is exactly header + N bytes long.
 * Verification (AT+QFOTADL): bad magic, a missing/garbled field, a size mismatch or a wrong
 * checksum make the package invalid (HTTP_err 6507 after a download, FOTA END 6507 for a local
 * upgrade). A valid package whose model or "from" revision differs from the module's ends the
 * update with END,6508. `dfota-sim --make-package OUT --from REV --to REV` writes one with a
 * deterministic pseudo-random payload (default 20135 bytes, the size of the seed's fota.pack);
 * --corrupt flips one payload byte after the checksum was computed.
 */
#include "sim.h"

#include <string.h>

#define MAGIC "DFOTA-SIM-PACKAGE 1"

guint16
sim_xor16(const guint8 *data, gsize len)
{
	guint16 x = 0;
	gsize i;

	for (i = 0; i + 1 < len; i += 2)
		x ^= (guint16)((data[i] << 8) | data[i + 1]);
	if (len % 2)
		x ^= (guint16)(data[len - 1] << 8);
	return x;
}

void
sim_package_clear(SimPackage *pkg)
{
	g_clear_pointer(&pkg->model, g_free);
	g_clear_pointer(&pkg->from, g_free);
	g_clear_pointer(&pkg->to, g_free);
	pkg->payload_size = 0;
}

/* Reads one LF-terminated line starting at *pos; NULL when there is none (bounded length). */
static char *
next_line(const guint8 *data, gsize len, gsize *pos)
{
	const guint8 *nl;
	gsize avail = len - *pos;
	char *line;

	if (avail > 256)
		avail = 256;
	nl = memchr(data + *pos, '\n', avail);
	if (nl == NULL)
		return NULL;
	line = g_strndup((const char *)data + *pos, (gsize)(nl - (data + *pos)));
	*pos = (gsize)(nl - data) + 1;
	return line;
}

static char *
field(const guint8 *data, gsize len, gsize *pos, const char *key)
{
	g_autofree char *line = next_line(data, len, pos);
	gsize klen = strlen(key);

	if (line == NULL || strncmp(line, key, klen) != 0 || strncmp(line + klen, ": ", 2) != 0)
		return NULL;
	if (line[klen + 2] == '\0' || strchr(line + klen + 2, ' ') != NULL)
		return NULL;
	return g_strdup(line + klen + 2);
}

gboolean
sim_package_parse(const guint8 *data, gsize len, SimPackage *out)
{
	g_autofree char *magic = NULL;
	g_autofree char *size_s = NULL;
	g_autofree char *xor_s = NULL;
	g_autofree char *blank = NULL;
	SimPackage pkg = { 0 };
	gsize pos = 0;
	guint64 size;
	guint64 xor_v;
	char *end = NULL;

	magic = next_line(data, len, &pos);
	if (magic == NULL || strcmp(magic, MAGIC) != 0)
		return FALSE;
	pkg.model = field(data, len, &pos, "model");
	pkg.from = field(data, len, &pos, "from");
	pkg.to = field(data, len, &pos, "to");
	size_s = field(data, len, &pos, "payload-size");
	xor_s = field(data, len, &pos, "payload-xor16");
	blank = next_line(data, len, &pos);
	if (!pkg.model || !pkg.from || !pkg.to || !size_s || !xor_s || !blank || *blank)
		goto bad;
	size = g_ascii_strtoull(size_s, &end, 10);
	if (*end != '\0' || len - pos != size)
		goto bad;
	if (strlen(xor_s) != 4)
		goto bad;
	xor_v = g_ascii_strtoull(xor_s, &end, 16);
	if (*end != '\0' || xor_v != sim_xor16(data + pos, (gsize)size))
		goto bad;
	pkg.payload_size = (gsize)size;
	if (out)
		*out = pkg;
	else
		sim_package_clear(&pkg);
	return TRUE;
bad:
	sim_package_clear(&pkg);
	return FALSE;
}

int
sim_make_package(const char *out, const char *model, const char *from, const char *to,
                 gsize payload_size, gboolean corrupt)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autofree guint8 *payload = g_malloc(payload_size ? payload_size : 1);
	g_autofree char *header = NULL;
	guint32 state = g_str_hash(from) ^ (g_str_hash(to) * 31u) ^ 0x9e3779b9u;
	gsize i;

	for (i = 0; i < payload_size; i++) {
		/* xorshift32: deterministic, so two runs build byte-identical packages */
		state ^= state << 13;
		state ^= state >> 17;
		state ^= state << 5;
		payload[i] = (guint8)(state >> 24);
	}
	header = g_strdup_printf(MAGIC "\nmodel: %s\nfrom: %s\nto: %s\npayload-size: %zu\n"
	                               "payload-xor16: %04x\n\n",
	                         model, from, to, payload_size,
	                         corrupt && payload_size == 0 ? 0xdead
	                                                      : sim_xor16(payload, payload_size));
	if (corrupt && payload_size > 0)
		payload[payload_size / 2] ^= 0x5a;
	g_byte_array_append(buf, (const guint8 *)header, (guint)strlen(header));
	g_byte_array_append(buf, payload, (guint)payload_size);
	if (!g_file_set_contents(out, (const char *)buf->data, buf->len, &error)) {
		g_printerr("dfota-sim: %s\n", error->message);
		return 1;
	}
	return 0;
}
