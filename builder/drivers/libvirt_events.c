/* The libvirt driver's event loop: one thread, shared by every open VM, runs libvirt's
 * default event loop (power-off events, the connection's keepalives). */
#include "libvirt_int.h"

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned ev_users;

static atomic_bool ev_quit;

static pthread_t ev_thread;

static bool ev_registered;

static void *event_loop(void *arg)
{
    (void)arg;
    /* Signals (Ctrl-C) belong to the thread that runs the build, whose waits they cut short. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&ev_quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

static void wake_once(int timer, void *ud)
{
    (void)ud;
    virEventRemoveTimeout(timer);
}

int bw_lv_events_ref(struct bw_error *err)
{
    pthread_mutex_lock(&ev_lock);
    int rc = 0;
    if (!ev_registered) {
        virSetErrorFunc(NULL, bw_lv_quiet);
        if (virEventRegisterDefaultImpl() < 0)
            rc = bw_lv_fail(err, "virEventRegisterDefaultImpl", NULL);
        else
            ev_registered = true;
    }
    if (rc == 0 && ev_users++ == 0) {
        atomic_store(&ev_quit, false);
        int e = pthread_create(&ev_thread, NULL, event_loop, NULL);
        if (e) {
            ev_users = 0;
            bw_error_set(err, BW_ERR_INTERNAL, "libvirt: cannot start the event thread: %s",
                         strerror(e));
            rc = -1;
        }
    }
    pthread_mutex_unlock(&ev_lock);
    return rc;
}

void bw_lv_events_unref(void)
{
    pthread_mutex_lock(&ev_lock);
    if (ev_users && --ev_users == 0) {
        atomic_store(&ev_quit, true);
        virEventAddTimeout(0, wake_once, NULL, NULL); /* wakes the loop so it sees ev_quit */
        pthread_join(ev_thread, NULL);
    }
    pthread_mutex_unlock(&ev_lock);
}

void bw_lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *ud)
{
    (void)conn;
    (void)dom;
    (void)detail;
    struct bw_vm *vm = ud;
    if (event == VIR_DOMAIN_EVENT_STOPPED)
        atomic_store(&vm->stopped, true);
}
