// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-line-reader.c: CR/LF framing with a fixed bound, tolerant of NULs and noise. */
#include "dfota-line-reader.h"

struct _DfotaLineReader {
	char *buf; /* max bytes, never reallocated */
	gsize len;
	gsize max;
	gboolean discarding; /* inside a line that passed the bound: drop until its end */
	char last_term;      /* CR or LF that ended the last line, 0 otherwise */
	guint dropped;
	guint noise;
};

DfotaLineReader *
dfota_line_reader_new(gsize max_line)
{
	DfotaLineReader *self = g_new0(DfotaLineReader, 1);

	self->max = max_line > 0 ? max_line : DFOTA_LINE_READER_DEFAULT_MAX;
	self->buf = g_malloc(self->max);
	return self;
}

void
dfota_line_reader_free(DfotaLineReader *self)
{
	if (self == NULL)
		return;
	g_free(self->buf);
	g_free(self);
}

gsize
dfota_line_reader_feed_one(DfotaLineReader *self, const guint8 *data, gsize len, char **line_out)
{
	*line_out = NULL;
	for (gsize i = 0; i < len; i++) {
		guint8 c = data[i];

		if (c == '\r' || c == '\n') {
			/* The second half of a CRLF/LFCR pair is not an empty line of its own. */
			if (self->len == 0 && !self->discarding && self->last_term != 0 &&
			    self->last_term != (char)c) {
				self->last_term = 0;
				continue;
			}
			self->last_term = (char)c;
			if (self->discarding) {
				self->discarding = FALSE;
				self->len = 0;
				continue;
			}
			if (self->len == 0)
				continue;
			*line_out = g_strndup(self->buf, self->len);
			self->len = 0;
			return i + 1;
		}
		self->last_term = 0;
		if (c == '\0')
			continue;
		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			self->noise++;
			continue;
		}
		if (self->discarding)
			continue;
		if (self->len == self->max) {
			g_warning("Dropping a line longer than %" G_GSIZE_FORMAT " bytes from the "
			          "module",
			          self->max);
			self->dropped++;
			self->discarding = TRUE;
			self->len = 0;
			continue;
		}
		self->buf[self->len++] = (char)c;
	}
	return len;
}

gsize
dfota_line_reader_skip_terminator(DfotaLineReader *self, const guint8 *data, gsize len)
{
	char term = self->last_term;

	if (len == 0)
		return 0;
	self->last_term = 0;
	if (self->len != 0 || term == 0)
		return 0;
	if ((term == '\r' && data[0] == '\n') || (term == '\n' && data[0] == '\r'))
		return 1;
	return 0;
}

gboolean
dfota_line_reader_is_empty(DfotaLineReader *self)
{
	return self->len == 0 && !self->discarding;
}

const char *
dfota_line_reader_peek(DfotaLineReader *self, gsize *len)
{
	*len = self->discarding ? 0 : self->len;
	return self->buf;
}

void
dfota_line_reader_reset(DfotaLineReader *self)
{
	self->len = 0;
	self->discarding = FALSE;
	self->last_term = 0;
}

guint
dfota_line_reader_get_dropped(DfotaLineReader *self)
{
	return self->dropped;
}

guint
dfota_line_reader_get_noise(DfotaLineReader *self)
{
	return self->noise;
}
