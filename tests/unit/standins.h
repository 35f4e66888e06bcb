/*
 * standins - the stand-ins the tests start: s3rver (a real S3-protocol server, from npm)
 * behind tests/oracles/s3-front (which checks every signature with botocore and can cut a
 * part's connection), tests/oracles/ec2-fake (EC2's Query API, signatures checked, answers
 * from a file), both taking the access key and secret STANDIN_KEY; and a plain web server as
 * an internal mirror. Each returns the process, started and listening; stop it with
 * bw_spawn_stop().
 */
#ifndef BW_TEST_STANDINS_H
#define BW_TEST_STANDINS_H

#include <sys/types.h>

#define STANDIN_KEY "S3RVER" /* s3rver's own access key and secret */

/* Where s3rver is: $BW_S3RVER, else where scripts/setup installs it. */
const char *standin_s3rver_bin(void);

/* s3rver keeping its data in DIR/s3rver, with the bucket "images"; *port set. */
pid_t standin_s3rver(const char *dir, unsigned *port);

/* The front on *port (a free one when 0, else the same again) before s3rver's s3_port; cut is
 * "N:BYTES" (the N-th part's connection cut after BYTES) or NULL; each request goes to log. */
pid_t standin_s3_front(unsigned *port, unsigned s3_port, const char *cut, const char *log);

/* ec2-fake on a free port (*port set) answering from tests/data/ec2/ANSWERS, each request's
 * form body a line of log. */
pid_t standin_ec2(unsigned *port, const char *answers, const char *log);

/* An internal mirror: Python's http.server serving DIR read-only on 127.0.0.1, a free port
 * (*port set), its request log in log. */
pid_t standin_mirror(const char *dir, unsigned *port, const char *log);

#endif
