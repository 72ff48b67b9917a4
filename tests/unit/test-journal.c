// SPDX-License-Identifier: LGPL-2.1-or-later
/* Unit tests of DfotaJournal: durable records, job ids without a write per job, and the
 * progress side file that spares the record (and the flash) a write per percent. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfota-journal.h"
#include "dfota-journal-writer.h"
#include "test-log.h"

#define PORT "/dev/ttyUSB0"
#define IMEI "866971030012345"

typedef struct {
	char *dir;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer unused)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("dfota-journal-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer unused)
{
	g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(f->dir, name, NULL);

		if (g_unlink(p) != 0)
			g_rmdir(p);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
}

static GVariant *
job_record(guint64 id, const char *phase, guint percent)
{
	GVariantDict d;

	g_variant_dict_init(&d, NULL);
	g_variant_dict_insert(&d, "id", "t", id);
	g_variant_dict_insert(&d, "kind", "s", "upgrade");
	g_variant_dict_insert(&d, "source", "s", "http://127.0.0.1/p");
	g_variant_dict_insert(&d, "phase", "s", phase);
	g_variant_dict_insert(&d, "percent", "u", percent);
	return g_variant_dict_end(&d);
}

static guint
job_percent(DfotaJournal *j)
{
	g_autoptr(GVariant) job = dfota_journal_get_job(j);
	guint percent = G_MAXUINT;

	g_assert_nonnull(job);
	g_assert_true(g_variant_lookup(job, "percent", "u", &percent));
	return percent;
}

static char *
file_text(const char *path)
{
	char *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

/* Ids increase and are never reused, across reopenings (a restart) included, although taking
 * one writes nothing: they come from a block reserved on disk. */
static void
test_ids(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autofree char *before = NULL;
	g_autofree char *after = NULL;
	guint64 a, b, c, last = 0;

	before = file_text(dfota_journal_get_path(j));
	a = dfota_journal_take_job_id(j);
	b = dfota_journal_take_job_id(j);
	after = file_text(dfota_journal_get_path(j));
	g_assert_cmpuint(a, ==, 1);
	g_assert_cmpuint(b, ==, 2);
	g_assert_cmpstr(before, ==, after);
	g_clear_pointer(&j, dfota_journal_free);

	/* "restart": the next id is beyond every id handed out before */
	j = dfota_journal_open(f->dir, PORT, IMEI);
	c = dfota_journal_take_job_id(j);
	g_assert_cmpuint(c, >, b);
	/* past the end of a block: a new block, still increasing */
	for (int i = 0; i < 200; i++) {
		guint64 id = dfota_journal_take_job_id(j);

		g_assert_cmpuint(id, >, MAX(last, c));
		last = id;
	}
	g_clear_pointer(&j, dfota_journal_free);
	j = dfota_journal_open(f->dir, PORT, IMEI);
	g_assert_cmpuint(dfota_journal_take_job_id(j), >, last);
}

/* Percent updates go to the side file: the record itself is not rewritten (same inode, same
 * text), and a reopened journal reports the percent reached. */
static void
test_progress_side_file(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autofree char *side = NULL;
	g_autofree char *text = NULL;
	g_autofree char *text2 = NULL;
	struct stat st1, st2;
	guint64 id = dfota_journal_take_job_id(j);

	g_assert_true(dfota_journal_set_job(j, job_record(id, "updating", 0), NULL));
	text = file_text(dfota_journal_get_path(j));
	g_assert_cmpint(g_stat(dfota_journal_get_path(j), &st1), ==, 0);
	for (guint p = 1; p <= 40; p++)
		dfota_journal_set_progress(j, id, "updating", p);
	g_assert_cmpint(g_stat(dfota_journal_get_path(j), &st2), ==, 0);
	g_assert_cmpuint(st1.st_ino, ==, st2.st_ino);
	text2 = file_text(dfota_journal_get_path(j));
	g_assert_cmpstr(text, ==, text2);
	g_assert_cmpuint(job_percent(j), ==, 40);

	g_clear_pointer(&j, dfota_journal_free);
	j = dfota_journal_open(f->dir, PORT, IMEI);
	g_assert_cmpuint(job_percent(j), ==, 40);

	/* a shorter number later must not leave digits of the longer one behind */
	dfota_journal_set_progress(j, id, "updating", 100);
	dfota_journal_set_progress(j, id, "updating", 7);
	/* the side file holds the latest (fota_publish() never lowers a percent) */
	g_assert_cmpuint(job_percent(j), ==, 7);
	side = g_strconcat(dfota_journal_get_path(j), ".progress", NULL);
	g_free(text);
	text = file_text(side);
	g_assert_nonnull(strstr(text, " 007\n"));

	/* finishing the job forgets the side file */
	g_assert_true(dfota_journal_finish_job(j, job_record(id, "idle", 0), NULL));
	g_assert_false(g_file_test(side, G_FILE_TEST_EXISTS));
	g_assert_null(dfota_journal_get_job(j));
}

/* The side file only ever adds to the record it names: another job, another phase, or a file
 * torn by a power cut is ignored, and the record stays readable. */
static void
test_progress_mismatch(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autofree char *side = g_strconcat(dfota_journal_get_path(j), ".progress", NULL);
	guint64 id = dfota_journal_take_job_id(j);
	const char *torn[] = { "",
		               "0000",
		               "000000000000000000",
		               "garbage here and there\n",
		               "00000000000000000001 downloading      ",
		               NULL };

	g_assert_true(dfota_journal_set_job(j, job_record(id, "downloading", 20), NULL));
	dfota_journal_set_progress(j, id + 1, "downloading", 90);
	g_assert_cmpuint(job_percent(j), ==, 20);
	dfota_journal_set_progress(j, id, "updating", 90);
	g_assert_cmpuint(job_percent(j), ==, 20);
	dfota_journal_set_progress(j, id, "downloading", 30);
	g_assert_cmpuint(job_percent(j), ==, 30);
	g_clear_pointer(&j, dfota_journal_free);

	for (guint i = 0; torn[i]; i++) {
		g_assert_true(g_file_set_contents(side, torn[i], -1, NULL));
		j = dfota_journal_open(f->dir, PORT, IMEI);
		g_assert_cmpuint(job_percent(j), ==, 20);
		g_clear_pointer(&j, dfota_journal_free);
	}
}

/* A phase entered again in the same job (the module restarted its update after a power cut)
 * starts at 0: the percent of the earlier stay must not come back from the side file. */
static void
test_progress_phase_again(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	guint64 id = dfota_journal_take_job_id(j);

	g_assert_true(dfota_journal_set_job(j, job_record(id, "updating", 0), NULL));
	dfota_journal_set_progress(j, id, "updating", 60);
	g_assert_true(dfota_journal_set_job(j, job_record(id, "rebooting", 0), NULL));
	g_assert_true(dfota_journal_set_job(j, job_record(id, "updating", 0), NULL));
	g_clear_pointer(&j, dfota_journal_free);
	j = dfota_journal_open(f->dir, PORT, IMEI);
	g_assert_cmpuint(job_percent(j), ==, 0);
	dfota_journal_set_progress(j, id, "updating", 5);
	g_assert_cmpuint(job_percent(j), ==, 5);
}

/* ---- bad records: the class, not the examples ------------------------------------------------ */

#define GOOD_JOB                                                                         \
	"'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'http://h/p'>, "     \
	"'started': <uint64 1>, 'from-revision': <'BC65JAR01A01'>, 'step': <uint32 5>, " \
	"'phase': <'updating'>, 'percent': <uint32 40>, 'end-seen': <false>}>"
#define GOOD_LAST                                                                            \
	"'last-result': <{'id': <uint64 6>, 'kind': <'fetch-mcu-file'>, 'success': <true>, " \
	"'code': <0>, 'error': <''>, 'message': <'ok'>, 'file': <'m.bin'>, 'size': <uint64 5>}>"

typedef struct {
	const char *name;
	const char *text;
	gssize len; /* -1: strlen */
} BadRecord;

static const BadRecord bad_records[] = {
	{ "truncated", "{'next-id': <uint64 65>, " GOOD_JOB, -1 },
	{ "empty", "", -1 },
	{ "not-utf8-in-revision",
	  "{'next-id': <uint64 65>, 'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, "
	  "'source': <'x'>, 'from-revision': <'BC65\xff'>}>}",
	  -1 },
	{ "not-utf8-in-key", "{'next\xc3-id': <uint64 65>}", -1 },
	{ "nul-byte", "{'next-id': <uint64 65>}\0garbage", 32 },
	{ "not-gvariant", "[journal]\nnext-id=65\n", -1 },
	{ "other-type", "[1, 2, 3]", -1 },
	{ "next-id-string", "{'next-id': <'65'>}", -1 },
	{ "next-id-signed", "{'next-id': <int64 65>}", -1 },
	{ "next-id-zero", "{'next-id': <uint64 0>}", -1 },
	{ "next-id-max", "{'next-id': <uint64 18446744073709551615>}", -1 },
	{ "next-id-near-max", "{'next-id': <uint64 18446744073709551600>}", -1 },
	{ "next-id-2^62", "{'next-id': <uint64 4611686018427387904>}", -1 },
	{ "job-id-max",
	  "{'next-id': <uint64 5>, 'job': <{'id': <uint64 18446744073709551615>, "
	  "'kind': <'upgrade'>, 'source': <'x'>}>}",
	  -1 },
	{ "job-not-dict", "{'next-id': <uint64 5>, 'job': <'upgrade'>}", -1 },
	{ "job-other-dict", "{'next-id': <uint64 5>, 'job': <@a{ss} {'kind': 'upgrade'}>}", -1 },
	{ "last-not-dict", "{'next-id': <uint64 5>, 'last-result': <[1, 2]>}", -1 },
	{ "kind-unknown",
	  "{'job': <{'id': <uint64 7>, 'kind': <'reflash-everything'>, 'source': <'x'>}>}", -1 },
	{ "kind-not-string", "{'job': <{'id': <uint64 7>, 'kind': <uint32 0>, 'source': <'x'>}>}",
	  -1 },
	{ "job-id-string", "{'job': <{'id': <'7'>, 'kind': <'upgrade'>, 'source': <'x'>}>}", -1 },
	{ "job-id-zero", "{'job': <{'id': <uint64 0>, 'kind': <'upgrade'>, 'source': <'x'>}>}",
	  -1 },
	{ "job-source-number", "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <7>}>}",
	  -1 },
	{ "job-without-kind", "{'job': <{'id': <uint64 7>, 'source': <'x'>}>}", -1 },
	{ "job-without-id", "{'job': <{'kind': <'upgrade'>, 'source': <'x'>}>}", -1 },
	{ "job-started-string",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'started': <'yesterday'>}>}",
	  -1 },
	{ "job-percent-101",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'percent': <uint32 101>}>}",
	  -1 },
	{ "job-percent-signed",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'percent': <-1>}>}",
	  -1 },
	{ "job-step-unknown",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'step': <uint32 99>}>}",
	  -1 },
	{ "job-phase-unknown",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'phase': <'a-phase-name-longer-than-the-side-file-holds'>}>}",
	  -1 },
	{ "job-end-seen-string",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'end-seen': <'yes'>}>}",
	  -1 },
	{ "job-maybe",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'from-revision': <@ms nothing>}>}",
	  -1 },
	{ "job-handle",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'from-revision': <handle 3>}>}",
	  -1 },
	{ "job-key-twice",
	  "{'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, 'source': <'x'>, "
	  "'kind': <'upgrade-local'>}>}",
	  -1 },
	{ "next-id-twice", "{'next-id': <uint64 5>, 'next-id': <uint64 500>}", -1 },
	{ "last-success-string",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'upgrade'>, 'success': <'true'>}>}", -1 },
	{ "last-code-unsigned",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'upgrade'>, 'success': <false>, "
	  "'code': <uint32 6504>}>}",
	  -1 },
	{ "last-error-not-a-name",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'upgrade'>, 'success': <false>, "
	  "'error': <'org.evil.Error.Nope'>}>}",
	  -1 },
	{ "last-finished-double",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'upgrade'>, 'success': <true>, "
	  "'finished': <1.5>}>}",
	  -1 },
	{ "last-size-string",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'fetch-mcu-file'>, 'success': <true>, "
	  "'size': <'5'>}>}",
	  -1 },
	{ "last-kind-unknown",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'nope'>, 'success': <true>}>}", -1 },
	{ "last-without-success", "{'last-result': <{'id': <uint64 6>, 'kind': <'upgrade'>}>}",
	  -1 },
	{ "last-nested-variant",
	  "{'last-result': <{'id': <uint64 6>, 'kind': <'upgrade'>, 'success': <<true>>}>}", -1 },
};

/* Every value of a parsed record has the type the table says: what GetAll will publish. */
static void
assert_types(GVariant *dict, const char *const *spec)
{
	GVariantIter iter;
	const char *key;
	GVariant *value;

	g_assert_true(g_variant_is_of_type(dict, G_VARIANT_TYPE_VARDICT));
	g_variant_iter_init(&iter, dict);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		const char *type = NULL;

		for (guint i = 0; spec[i]; i += 2)
			if (g_str_equal(spec[i], key))
				type = spec[i + 1];
		if (type == NULL)
			g_error("unexpected key %s kept", key);
		g_assert_cmpstr(g_variant_get_type_string(value), ==, type);
		g_variant_unref(value);
	}
}

static void
test_parse_bad(gconstpointer data)
{
	const BadRecord *r = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	guint64 next_id = 12345;
	gsize len = r->len < 0 ? strlen(r->text) : (gsize)r->len;

	g_assert_false(dfota_journal_parse(r->text, len, &next_id, &job, &last, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
	g_test_message("%s: %s", r->name, error->message);
	g_assert_null(job);
	g_assert_null(last);
	g_assert_true(next_id == 0 || (next_id >= 1 && next_id < DFOTA_JOURNAL_ID_MAX));
}

/* A sound record loads with only the known keys (unknown ones dropped), each of its type, and
 * a next id above every id the record shows. */
static void
test_parse_good(void)
{
	static const char *const job_spec[] = {
		"id",      "t", "kind",          "s", "source",   "s",
		"started", "t", "from-revision", "s", "step",     "u",
		"phase",   "s", "percent",       "u", "end-seen", "b",
		NULL
	};
	static const char *const last_spec[] = { "id",   "t", "kind",  "s", "success", "b",
		                                 "code", "i", "error", "s", "message", "s",
		                                 "file", "s", "size",  "t", NULL };
	const char *text =
	        "{'next-id': <uint64 3>, 'future-key': <[1, 2]>, " GOOD_JOB ", " GOOD_LAST "}";
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	guint64 next_id = 0;

	g_assert_true(dfota_journal_parse(text, strlen(text), &next_id, &job, &last, &error));
	g_assert_no_error(error);
	assert_types(job, job_spec);
	assert_types(last, last_spec);
	g_assert_cmpuint(g_variant_n_children(job), ==, 9);
	/* next-id 3 was written, but job 7 exists: never hand out 3..7 again */
	g_assert_cmpuint(next_id, ==, 8);
	g_clear_pointer(&job, g_variant_unref);
	g_clear_pointer(&last, g_variant_unref);

	/* an unknown key inside job is dropped, the rest kept */
	text = "{'job': <{'id': <uint64 7>, 'kind': <'upgrade-local'>, 'source': "
	       "<'UFS:fota.pack'>, "
	       "'shiny': <@ms nothing>}>}";
	g_assert_true(dfota_journal_parse(text, strlen(text), &next_id, &job, &last, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_variant_n_children(job), ==, 3);
	g_assert_null(last);
	g_assert_cmpuint(next_id, ==, 8);
}

/* A record refused as a whole still gives its id counter when that alone is sound. */
static void
test_parse_salvage(void)
{
	const char *text = "{'next-id': <uint64 900>, 'job': <'no'>}";
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	guint64 next_id = 0;

	g_assert_false(dfota_journal_parse(text, strlen(text), &next_id, &job, &last, &error));
	g_assert_cmpuint(next_id, ==, 900);
}

/* The record file of @f's modem. */
static char *
record_path(Fixture *f)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autofree char *path = g_strdup(dfota_journal_get_path(j));

	g_clear_pointer(&j, dfota_journal_free);
	g_assert_cmpint(g_unlink(path), ==, 0);
	return g_steal_pointer(&path);
}

/* Names in @dir that start with @prefix. */
static guint
count_prefixed(const char *dir, const char *prefix)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint n = 0;

	while (d && (name = g_dir_read_name(d)) != NULL)
		if (g_str_has_prefix(name, prefix))
			n++;
	return n;
}

typedef enum {
	BAD_TEXT_NOT_UTF8,
	BAD_TEXT_WRONG_TYPE,
	BAD_DIRECTORY,
	BAD_SYMLINK,
	BAD_FIFO,
	BAD_HUGE,
	BAD_DEVICE,
	BAD_NEXT_ID_MAX,
} BadFile;

static void
make_bad(const char *path, BadFile kind, const char *dir)
{
	g_autofree char *target = g_build_filename(dir, "elsewhere", NULL);
	int fd;

	switch (kind) {
	case BAD_TEXT_NOT_UTF8:
		g_assert_true(g_file_set_contents(
		        path,
		        "{'next-id': <uint64 65>, 'job': <{'id': <uint64 7>, 'kind': <'upgrade'>, "
		        "'source': <'http://h/p'>, 'from-revision': <'BC65JAR01A\xe1'>}>}",
		        -1, NULL));
		break;
	case BAD_TEXT_WRONG_TYPE:
		g_assert_true(
		        g_file_set_contents(path, "{'next-id': <'65'>, 'job': <'x'>}", -1, NULL));
		break;
	case BAD_NEXT_ID_MAX:
		g_assert_true(g_file_set_contents(
		        path, "{'next-id': <uint64 18446744073709551615>}", -1, NULL));
		break;
	case BAD_DIRECTORY:
		g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
		break;
	case BAD_SYMLINK:
		/* to a sound record: still not followed */
		g_assert_true(g_file_set_contents(target, "{'next-id': <uint64 65>}", -1, NULL));
		g_assert_cmpint(symlink(target, path), ==, 0);
		break;
	case BAD_FIFO:
		g_assert_cmpint(mkfifo(path, 0600), ==, 0);
		break;
	case BAD_HUGE:
		/* 100 MB, sparse: a reader that does not bound its size first would take it all */
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(ftruncate(fd, 100 * 1000 * 1000), ==, 0);
		close(fd);
		break;
	case BAD_DEVICE:
		g_assert_cmpint(symlink("/dev/null", path), ==, 0);
		break;
	}
}

/* Each bad file in the record's place is moved aside with one warning that names it, and
 * the journal starts fresh, writable, with ids above anything that may have been issued. */
static void
test_bad_record_file(Fixture *f, gconstpointer data)
{
	BadFile kind = GPOINTER_TO_INT(data);
	g_autofree char *path = record_path(f);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *aside_prefix = g_strconcat(base, ".corrupt-", NULL);
	g_autoptr(DfotaJournal) j = NULL;
	g_autoptr(GError) error = NULL;
	gint64 before = g_get_real_time();
	guint64 id;
	struct stat st;

	make_bad(path, kind, f->dir);
	test_log_expect = path;
	test_log_count = 0;
	j = dfota_journal_open(f->dir, PORT, IMEI);
	test_log_expect = NULL;
	g_assert_cmpuint(test_log_count, ==, 1);
	g_assert_cmpuint(count_prefixed(f->dir, aside_prefix), ==, 1);
	g_assert_null(dfota_journal_get_job(j));
	g_assert_null(dfota_journal_get_last_result(j));
	/* the counter was lost: ids continue above the time, never from 1 again */
	id = dfota_journal_take_job_id(j);
	g_assert_cmpuint(id, >=, (guint64)before);
	g_assert_cmpuint(id, <, DFOTA_JOURNAL_ID_MAX);
	/* a fresh record in its place, a regular file that loads back */
	g_assert_cmpint(lstat(path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_true(dfota_journal_set_job(j, job_record(id, "updating", 3), NULL));
	dfota_journal_set_progress(j, id, "updating", 9);
	g_clear_pointer(&j, dfota_journal_free);
	test_log_expect = "journal";
	test_log_count = 0;
	j = dfota_journal_open(f->dir, PORT, IMEI);
	test_log_expect = NULL;
	g_assert_cmpuint(test_log_count, ==, 0);
	g_assert_cmpuint(job_percent(j), ==, 9);
	g_assert_cmpuint(dfota_journal_take_job_id(j), >, id);
}

/* The side file in the same classes: moved aside with one warning, progress written again. */
static void
test_bad_progress_file(Fixture *f, gconstpointer data)
{
	BadFile kind = GPOINTER_TO_INT(data);
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autofree char *side = g_strconcat(dfota_journal_get_path(j), ".progress", NULL);
	g_autofree char *base = g_path_get_basename(side);
	g_autofree char *aside_prefix = g_strconcat(base, ".corrupt-", NULL);
	guint64 id = dfota_journal_take_job_id(j);
	struct stat st;

	g_assert_true(dfota_journal_set_job(j, job_record(id, "downloading", 20), NULL));
	g_clear_pointer(&j, dfota_journal_free);
	make_bad(side, kind, f->dir);
	test_log_expect = side;
	test_log_count = 0;
	j = dfota_journal_open(f->dir, PORT, IMEI);
	g_assert_cmpuint(job_percent(j), ==, 20);
	test_log_expect = NULL;
	g_assert_cmpuint(test_log_count, ==, 1);
	g_assert_cmpuint(count_prefixed(f->dir, aside_prefix), ==, 1);
	dfota_journal_set_progress(j, id, "downloading", 55);
	g_assert_cmpint(lstat(side, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(job_percent(j), ==, 55);
}

/* Replaced behind the journal's back after it opened (a symlink, a FIFO): never followed, never
 * blocked on; moved aside when read, progress kept in the record. */
static void
test_progress_replaced_later(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autofree char *side = g_strconcat(dfota_journal_get_path(j), ".progress", NULL);
	g_autofree char *target = g_build_filename(f->dir, "elsewhere", NULL);
	g_autofree char *text = NULL;
	guint64 id = dfota_journal_take_job_id(j);

	g_assert_true(dfota_journal_set_job(j, job_record(id, "updating", 10), NULL));
	g_assert_true(g_file_set_contents(target, "untouched", -1, NULL));
	g_assert_cmpint(symlink(target, side), ==, 0);
	test_log_expect = side;
	test_log_count = 0;
	dfota_journal_set_progress(j, id, "updating", 50); /* refuses to follow: one warning */
	dfota_journal_set_progress(j, id, "updating", 51); /* and says it once */
	g_assert_cmpuint(test_log_count, ==, 1);
	g_assert_cmpuint(job_percent(j), ==, 10); /* the link is moved aside: a second warning */
	test_log_expect = NULL;
	g_assert_cmpuint(test_log_count, ==, 2);
	g_assert_true(g_file_get_contents(target, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, "untouched");
}

/* The side file's line parser: what the writer writes, and nothing else. */
#define LINE(id, phase, pct) \
	g_strdup_printf("%020" G_GUINT64_FORMAT " %-24s %03u\n", (guint64)(id), phase, (guint)(pct))

static void
test_parse_progress(void)
{
	char *bad[] = {
		g_strdup(""),
		g_strdup("00000000000000000007 updating                 0"), /* cut */
		LINE(7, "updating", 101),
		LINE(0, "updating", 50),
		LINE(G_MAXUINT64, "updating", 50),
		LINE(7, "UPDATING", 50),
		LINE(7, "up\xff\xfeing", 50),
		LINE(7, "updating   x", 50),
		LINE(7, "", 50),
		g_strdup_printf("%020d %-24s %03u\n", -7, "updating", 50u),
		g_strdup_printf("%021u%-24s %03u\n", 7u, "updating", 50u),
		/* found by fuzz-journal: the same length, the percent where the padding was */
		g_strdup("00000000000000000001 downloading 0000000000000000\n"),
		NULL,
	};
	g_autofree char *good = LINE(7, "updating", 50);
	guint64 id = 0;
	guint percent = 0;
	char *phase = NULL;

	g_assert_true(dfota_journal_parse_progress(good, strlen(good), &id, &phase, &percent));
	g_assert_cmpuint(id, ==, 7);
	g_assert_cmpstr(phase, ==, "updating");
	g_assert_cmpuint(percent, ==, 50);
	g_free(phase);
	for (guint i = 0; bad[i]; i++) {
		g_assert_false(dfota_journal_parse_progress(bad[i], strlen(bad[i]), &id, &phase,
		                                            &percent));
		g_assert_null(phase);
		g_free(bad[i]);
	}
}

/* The state directory itself: empty, a file in its place, or not writable. */
static void
test_state_dir(Fixture *f, gconstpointer unused)
{
	g_autofree char *file = g_build_filename(f->dir, "a-file", NULL);
	g_autofree char *below = g_build_filename(file, "state", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(DfotaJournal) j = NULL;

	g_assert_false(dfota_journal_prepare_dir("", &error));
	g_assert_nonnull(strstr(error->message, "empty"));
	g_clear_error(&error);
	g_assert_true(g_file_set_contents(file, "x", -1, NULL));
	g_assert_false(dfota_journal_prepare_dir(file, &error));
	g_assert_nonnull(strstr(error->message, file));
	g_clear_error(&error);
	g_assert_false(dfota_journal_prepare_dir(below, &error));
	g_assert_nonnull(strstr(error->message, below));
	g_clear_error(&error);
	g_assert_true(dfota_journal_prepare_dir(f->dir, &error));
	g_assert_no_error(error);
	/* a journal there anyway (the daemon refuses to start first): warnings, no crash */
	test_log_expect = file;
	j = dfota_journal_open(file, PORT, IMEI);
	g_assert_cmpuint(dfota_journal_take_job_id(j), >=, 1);
	g_assert_false(dfota_journal_set_job(j, job_record(1, "updating", 0), NULL));
	test_log_expect = NULL;
	g_assert_cmpuint(test_log_count, >=, 1);
}

/* ---- records written off the main loop (dfota_journal_set_job_async()) ---------------------- */

static const char *const async_phases[] = { "fetching", "uploading", "updating", "rebooting" };

typedef struct {
	const char *path;
	guint done;      /* reports so far */
	guint destroyed; /* user data freed */
	guint want;
	GMainLoop *loop;
} AsyncWatch;

typedef struct {
	AsyncWatch *watch;
	guint index; /* the order it was made in; the finish is the last */
} AsyncWrite;

static void
async_write_destroy(gpointer data)
{
	AsyncWrite *a = data;

	a->watch->destroyed++;
	g_free(a);
}

/* Which of the test's writes the file on disk holds now: the index of its phase, or the
 * number of phases for the finished record, or -1 for the record from before them. */
static int
async_index_on_disk(const char *path)
{
	g_autofree char *text = file_text(path);
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	g_autoptr(GError) error = NULL;
	const char *phase = NULL;
	guint64 next_id;

	g_assert_true(dfota_journal_parse(text, strlen(text), &next_id, &job, &last, &error));
	g_assert_no_error(error);
	if (last)
		return G_N_ELEMENTS(async_phases);
	if (!job)
		return -1;
	g_assert_true(g_variant_lookup(job, "phase", "&s", &phase));
	for (guint i = 0; i < G_N_ELEMENTS(async_phases); i++)
		if (g_str_equal(phase, async_phases[i]))
			return (int)i;
	g_assert_not_reached();
}

static void
async_written(const GError *error, gpointer data)
{
	AsyncWrite *a = data;
	AsyncWatch *w = a->watch;

	g_assert_no_error(error);
	/* Reported in the order made, each only once its record (or a later one) is on disk:
	 * what the daemon publishes from here can never be ahead of the file. */
	g_assert_cmpuint(a->index, ==, w->done);
	g_assert_cmpint(async_index_on_disk(w->path), >=, (int)a->index);
	w->done++;
	if (w->done == w->want)
		g_main_loop_quit(w->loop);
}

static gboolean
async_deadline(gpointer unused)
{
	g_error("the journal's writes were not reported within 20 s");
	return G_SOURCE_REMOVE;
}

static AsyncWrite *
async_write_new(AsyncWatch *w, guint index)
{
	AsyncWrite *a = g_new0(AsyncWrite, 1);

	a->watch = w;
	a->index = index;
	return a;
}

/* Steps and the finish written back to back, without waiting: each report comes in order,
 * from the main loop, after its record reached the disk; a reopened journal (a restart)
 * holds the last. */
static void
test_async_in_order(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	g_autoptr(GVariant) last = NULL;
	g_autoptr(GVariant) job = NULL;
	AsyncWatch w = { .want = G_N_ELEMENTS(async_phases) + 1 };
	guint deadline = g_timeout_add_seconds(20, async_deadline, NULL);
	GVariantDict d;
	gboolean success = FALSE;

	w.path = dfota_journal_get_path(j);
	w.loop = g_main_loop_new(NULL, FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(async_phases); i++) {
		dfota_journal_set_job_async(j, job_record(7, async_phases[i], 0), async_written,
		                            async_write_new(&w, i), async_write_destroy);
		/* The record in memory changes at once. */
		g_assert_cmpuint(job_percent(j), ==, 0);
	}
	g_variant_dict_init(&d, NULL);
	g_variant_dict_insert(&d, "id", "t", (guint64)7);
	g_variant_dict_insert(&d, "kind", "s", "upgrade");
	g_variant_dict_insert(&d, "success", "b", TRUE);
	dfota_journal_finish_job_async(j, g_variant_dict_end(&d), async_written,
	                               async_write_new(&w, G_N_ELEMENTS(async_phases)),
	                               async_write_destroy);
	g_assert_cmpuint(w.done, ==, 0); /* never from inside the call */
	g_main_loop_run(w.loop);
	g_source_remove(deadline);
	g_main_loop_unref(w.loop);
	g_assert_cmpuint(w.done, ==, w.want);
	g_assert_cmpuint(w.destroyed, ==, w.want);

	g_clear_pointer(&j, dfota_journal_free);
	j = dfota_journal_open(f->dir, PORT, IMEI);
	job = dfota_journal_get_job(j);
	last = dfota_journal_get_last_result(j);
	g_assert_null(job);
	g_assert_nonnull(last);
	g_assert_true(g_variant_lookup(last, "success", "b", &success));
	g_assert_true(success);
}

/* Freeing the journal (the daemon stopping) waits for the write under way: the step is on
 * disk afterwards; its report is dropped, its user data still freed. */
static void
test_async_free_waits(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	AsyncWatch w = { .want = 1 };
	guint deadline = 0;
	g_autofree char *path = g_strdup(dfota_journal_get_path(j));

	w.path = path;
	dfota_journal_set_job_async(j, job_record(3, "uploading", 40), async_written,
	                            async_write_new(&w, 0), async_write_destroy);
	g_clear_pointer(&j, dfota_journal_free);
	g_assert_cmpint(async_index_on_disk(w.path), ==, 1);
	/* The report source comes from the writer's thread; attaching it wakes the context. */
	deadline = g_timeout_add_seconds(20, async_deadline, NULL);
	while (w.destroyed == 0)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(deadline);
	g_assert_cmpuint(w.done, ==, 0);
	j = dfota_journal_open(f->dir, PORT, IMEI);
	g_assert_cmpuint(job_percent(j), ==, 40);
}

/* The daemon stopping flushes the journal: the step made last is on disk once flush returns,
 * before its report has run (the main loop is over by then). */
static void
test_async_flush(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	AsyncWatch w = { .want = G_N_ELEMENTS(async_phases) };
	guint deadline = g_timeout_add_seconds(20, async_deadline, NULL);

	w.path = dfota_journal_get_path(j);
	w.loop = g_main_loop_new(NULL, FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(async_phases); i++)
		dfota_journal_set_job_async(j, job_record(9, async_phases[i], 0), async_written,
		                            async_write_new(&w, i), async_write_destroy);
	g_assert_true(dfota_journal_flush(j, g_get_monotonic_time() + 20 * G_USEC_PER_SEC));
	g_assert_cmpuint(w.done, ==, 0);
	g_assert_cmpint(async_index_on_disk(w.path), ==, G_N_ELEMENTS(async_phases) - 1);
	g_main_loop_run(w.loop);
	g_source_remove(deadline);
	g_main_loop_unref(w.loop);
	g_assert_cmpuint(w.done, ==, w.want);
}

/* A synchronous write made while an asynchronous one is under way lands after it: the file
 * ends with the newer record, never the older one written over it. */
static void
test_async_then_sync(Fixture *f, gconstpointer unused)
{
	g_autoptr(DfotaJournal) j = dfota_journal_open(f->dir, PORT, IMEI);
	AsyncWatch w = { .want = 1 };
	guint deadline = g_timeout_add_seconds(20, async_deadline, NULL);
	g_autoptr(GError) error = NULL;

	w.path = dfota_journal_get_path(j);
	w.loop = g_main_loop_new(NULL, FALSE);
	dfota_journal_set_job_async(j, job_record(5, "fetching", 0), async_written,
	                            async_write_new(&w, 0), async_write_destroy);
	g_assert_true(dfota_journal_set_job(j, job_record(5, "uploading", 0), &error));
	g_assert_no_error(error);
	g_assert_cmpint(async_index_on_disk(w.path), ==, 1);
	g_main_loop_run(w.loop);
	g_source_remove(deadline);
	g_main_loop_unref(w.loop);
	g_assert_cmpint(async_index_on_disk(w.path), ==, 1);
	g_clear_pointer(&j, dfota_journal_free);
	j = dfota_journal_open(f->dir, PORT, IMEI);
	{
		g_autoptr(GVariant) job = dfota_journal_get_job(j);
		const char *phase = NULL;

		g_assert_true(g_variant_lookup(job, "phase", "&s", &phase));
		g_assert_cmpstr(phase, ==, "uploading");
	}
}

/* ---- the writer on its own (dfota-journal-writer.h) ------------------------------------------ */

typedef struct {
	guint done;
	guint want;
	const char *path;
	GMainLoop *loop;
} WriterWatch;

typedef struct {
	WriterWatch *watch;
	guint index;
} WriterWrite;

static void
writer_written(const GError *error, gpointer data)
{
	WriterWrite *a = data;
	WriterWatch *w = a->watch;
	g_autofree char *text = file_text(w->path);
	guint64 on_disk = 0;

	g_assert_no_error(error);
	g_assert_cmpuint(a->index, ==, w->done);
	/* The file holds this write or a later one. */
	g_assert_true(g_ascii_string_to_unsigned(text, 10, 0, 100, &on_disk, NULL));
	g_assert_cmpuint(on_disk, >=, a->index);
	w->done++;
	if (w->done == w->want)
		g_main_loop_quit(w->loop);
}

/* Writes made with no worker thread (as when it cannot be started) are still made, in order,
 * each reported from the main loop after it is on disk, never from inside the submit. */
static void
test_writer_no_thread(Fixture *f, gconstpointer unused)
{
	g_autofree char *path = g_build_filename(f->dir, "w", NULL);
	DfotaJournalWriter *writer = dfota_journal_writer_new();
	WriterWatch w = { .want = 5, .path = path };
	guint deadline = g_timeout_add_seconds(20, async_deadline, NULL);

	w.loop = g_main_loop_new(NULL, FALSE);
	/* One through the thread first: the ones without it must land after it. */
	for (guint i = 0; i < w.want; i++) {
		WriterWrite *a = g_new0(WriterWrite, 1);

		a->watch = &w;
		a->index = i;
		if (i == 1)
			dfota_journal_writer_test_no_thread(writer);
		dfota_journal_writer_submit(writer, path, g_strdup_printf("%u", i), writer_written,
		                            a, g_free);
	}
	g_assert_cmpuint(w.done, ==, 0);
	g_assert_true(dfota_journal_writer_wait_until(writer, g_get_monotonic_time() +
	                                                              20 * G_USEC_PER_SEC));
	{
		g_autofree char *text = file_text(path);

		g_assert_cmpstr(text, ==, "4");
	}
	g_main_loop_run(w.loop);
	g_source_remove(deadline);
	g_main_loop_unref(w.loop);
	g_assert_cmpuint(w.done, ==, w.want);
	dfota_journal_writer_free(writer);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		BadFile kind;
	} bad_files[] = {
		{ "not-utf8", BAD_TEXT_NOT_UTF8 },
		{ "wrong-type", BAD_TEXT_WRONG_TYPE },
		{ "next-id-max", BAD_NEXT_ID_MAX },
		{ "directory", BAD_DIRECTORY },
		{ "symlink", BAD_SYMLINK },
		{ "fifo", BAD_FIFO },
		{ "huge", BAD_HUGE },
		{ "device", BAD_DEVICE },
	};

	g_test_init(&argc, &argv, NULL);
	test_log_init();
	for (guint i = 0; i < G_N_ELEMENTS(bad_records); i++) {
		g_autofree char *path =
		        g_strdup_printf("/journal/parse/bad/%s", bad_records[i].name);

		g_test_add_data_func(path, &bad_records[i], test_parse_bad);
	}
	g_test_add_func("/journal/parse/good", test_parse_good);
	g_test_add_func("/journal/parse/salvage", test_parse_salvage);
	g_test_add_func("/journal/parse/progress", test_parse_progress);
	for (guint i = 0; i < G_N_ELEMENTS(bad_files); i++) {
		g_autofree char *rec = g_strdup_printf("/journal/bad-file/%s", bad_files[i].name);
		g_autofree char *side =
		        g_strdup_printf("/journal/bad-side-file/%s", bad_files[i].name);

		g_test_add(rec, Fixture, GINT_TO_POINTER(bad_files[i].kind), fixture_setup,
		           test_bad_record_file, fixture_teardown);
		if (bad_files[i].kind != BAD_TEXT_NOT_UTF8 &&
		    bad_files[i].kind != BAD_TEXT_WRONG_TYPE &&
		    bad_files[i].kind != BAD_NEXT_ID_MAX)
			g_test_add(side, Fixture, GINT_TO_POINTER(bad_files[i].kind), fixture_setup,
			           test_bad_progress_file, fixture_teardown);
	}
	g_test_add("/journal/async/flush", Fixture, NULL, fixture_setup, test_async_flush,
	           fixture_teardown);
	g_test_add("/journal/writer/no-thread", Fixture, NULL, fixture_setup, test_writer_no_thread,
	           fixture_teardown);
	g_test_add("/journal/progress-replaced-later", Fixture, NULL, fixture_setup,
	           test_progress_replaced_later, fixture_teardown);
	g_test_add("/journal/state-dir", Fixture, NULL, fixture_setup, test_state_dir,
	           fixture_teardown);
	g_test_add("/journal/ids", Fixture, NULL, fixture_setup, test_ids, fixture_teardown);
	g_test_add("/journal/async/in-order", Fixture, NULL, fixture_setup, test_async_in_order,
	           fixture_teardown);
	g_test_add("/journal/async/free-waits", Fixture, NULL, fixture_setup, test_async_free_waits,
	           fixture_teardown);
	g_test_add("/journal/async/then-sync", Fixture, NULL, fixture_setup, test_async_then_sync,
	           fixture_teardown);
	g_test_add("/journal/progress-side-file", Fixture, NULL, fixture_setup,
	           test_progress_side_file, fixture_teardown);
	g_test_add("/journal/progress-mismatch", Fixture, NULL, fixture_setup,
	           test_progress_mismatch, fixture_teardown);
	g_test_add("/journal/progress-phase-again", Fixture, NULL, fixture_setup,
	           test_progress_phase_again, fixture_teardown);
	return g_test_run();
}
