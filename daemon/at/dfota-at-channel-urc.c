// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel-urc.c: which lines are unsolicited, and who hears them. */
#include "dfota-at-channel-private.h"

#include "at-parse.h"

void
urc_handler_free(UrcHandler *h)
{
	if (h->destroy)
		h->destroy(h->user_data);
	g_free(h->prefix);
	g_free(h);
}

gboolean
is_urc_line(DfotaAtChannel *self, const char *line)
{
	for (guint i = 0; i < self->urc_prefixes->len; i++) {
		if (g_str_has_prefix(line, g_ptr_array_index(self->urc_prefixes, i)))
			return TRUE;
	}
	for (guint i = 0; i < self->handlers->len; i++) {
		UrcHandler *h = g_ptr_array_index(self->handlers, i);
		if (g_str_has_prefix(line, h->prefix))
			return TRUE;
	}
	return dfota_at_is_boot_urc(line);
}

guint
dfota_at_channel_add_urc_handler(DfotaAtChannel *self, const char *prefix, DfotaAtUrcFunc func,
                                 gpointer user_data, GDestroyNotify destroy)
{
	UrcHandler *h;

	g_return_val_if_fail(DFOTA_IS_AT_CHANNEL(self), 0);
	g_return_val_if_fail(prefix != NULL && *prefix != '\0' && func != NULL, 0);

	h = g_new0(UrcHandler, 1);
	h->id = ++self->next_handler_id;
	h->prefix = g_strdup(prefix);
	h->func = func;
	h->user_data = user_data;
	h->destroy = destroy;
	g_ptr_array_add(self->handlers, h);
	return h->id;
}

void
dfota_at_channel_add_urc_prefix(DfotaAtChannel *self, const char *prefix)
{
	g_return_if_fail(DFOTA_IS_AT_CHANNEL(self));
	g_return_if_fail(prefix != NULL && *prefix != '\0');

	for (guint i = 0; i < self->urc_prefixes->len; i++) {
		if (g_str_equal(g_ptr_array_index(self->urc_prefixes, i), prefix))
			return;
	}
	g_ptr_array_add(self->urc_prefixes, g_strdup(prefix));
}

void
dfota_at_channel_remove_urc_handler(DfotaAtChannel *self, guint id)
{
	for (guint i = 0; i < self->handlers->len; i++) {
		UrcHandler *h = g_ptr_array_index(self->handlers, i);
		if (h->id == id) {
			g_ptr_array_remove_index(self->handlers, i);
			return;
		}
	}
}
