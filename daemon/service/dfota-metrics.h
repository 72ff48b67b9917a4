// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-metrics.h: the Prometheus text file for node_exporter's textfile collector.
 *
 * Watches every modem and its jobs, and keeps `metrics-file` (dfotad.conf(5)) in the text
 * exposition format. A change schedules one rewrite DFOTA_METRICS_DELAY_MS later, so a storm
 * of progress or AT traffic costs at most a few writes a second. Each write is a temporary
 * file in the same directory renamed over the old one, so the collector never reads half a
 * file. A failed write is a warning (once per distinct error) and never stops the daemon.
 */
#pragma once

#include <glib-object.h>
#include "dfota-fota.h"
#include "dfota-modem.h"

G_BEGIN_DECLS

#define DFOTA_METRICS_DELAY_MS 500

#define DFOTA_TYPE_METRICS (dfota_metrics_get_type())
G_DECLARE_FINAL_TYPE(DfotaMetrics, dfota_metrics, DFOTA, METRICS, GObject)

/* Writes to @path (absolute; its directory should exist). Nothing is written until the first
 * modem is added. */
DfotaMetrics *dfota_metrics_new(const char *path);

/* Follows @modem and @fota as object Modem/@index (the label `modem`). */
void dfota_metrics_add_modem(DfotaMetrics *self, guint index, DfotaModem *modem, DfotaFota *fota);

/* The file's text as it would be written now. */
char *dfota_metrics_render(DfotaMetrics *self);

/* Writes the file now (also cancels a pending delayed write). FALSE with @error when the file
 * could not be written; the warning is logged either way. */
gboolean dfota_metrics_write(DfotaMetrics *self, GError **error);

/* Appends @value escaped as a label value of the text format (backslash, double quote and
 * newline escaped as \\, \" and \n). */
void dfota_metrics_append_label_value(GString *out, const char *value);

G_END_DECLS
