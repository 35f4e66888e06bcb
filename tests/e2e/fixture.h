/* The tests' installer ISO, built once per build tree and again when its script changes. */
#ifndef BW_E2E_FIXTURE_H
#define BW_E2E_FIXTURE_H

/* Returns the ISO's path (caller frees); aborts the test if it cannot be built. */
char *e2e_fixture_iso(void);

#endif
