/* Unit tests of DfotaJournal: durable records, job ids without a write per job, and the
 * progress side file that spares the record (and the flash) a write per percent. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "dfota-journal.h"

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

		g_unlink(p);
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
	const char *torn[] = { "", "0000", "000000000000000000", "garbage here and there\n",
		               "00000000000000000001 downloading      ", NULL };

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

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/journal/ids", Fixture, NULL, fixture_setup, test_ids, fixture_teardown);
	g_test_add("/journal/progress-side-file", Fixture, NULL, fixture_setup,
	           test_progress_side_file, fixture_teardown);
	g_test_add("/journal/progress-mismatch", Fixture, NULL, fixture_setup,
	           test_progress_mismatch, fixture_teardown);
	g_test_add("/journal/progress-phase-again", Fixture, NULL, fixture_setup,
	           test_progress_phase_again, fixture_teardown);
	return g_test_run();
}
