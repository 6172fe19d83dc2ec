/* Guest instruction counter for qemu-user (TCG plugin API version 1, QEMU 7.x).
 *
 * Debian's qemu-user (not -static) is built with TCG plugin support but ships no plugin,
 * so benchmarks/armv7 builds this one: every translated block adds its instruction count
 * to one counter each time it runs (an inline add, no callback), and the total is written
 * to out=PATH when the guest exits. Only the few API calls below are used; they are
 * declared here instead of including qemu-plugin.h, which Debian does not package.
 *
 * Build: gcc -O2 -shared -fPIC -fvisibility=hidden -o insncount.so insncount.c
 * Use:   qemu-arm -plugin ./insncount.so,out=/tmp/n.txt -L ROOTFS ROOTFS/usr/bin/python3 ...
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* not read */
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*udata_cb_t)(qemu_plugin_id_t, void *);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb_t);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op,
                                              void *, uint64_t);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, udata_cb_t, void *);

EXPORT int qemu_plugin_version = 1;

/* One counter for all vCPUs: the measured guest programs run one thread that works (the
 * runner starts no threads; the HTTP server is on the host), so racing adds do not occur. */
static uint64_t insns;
static char out_path[4096];

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns,
                                             qemu_plugin_tb_n_insns(tb));
}

static void on_exit_write(qemu_plugin_id_t id, void *unused)
{
    (void)id;
    (void)unused;
    FILE *f = fopen(out_path, "w");
    if (f != NULL) {
        fprintf(f, "%llu\n", (unsigned long long)insns);
        fclose(f);
    }
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                               char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
        }
    }
    if (out_path[0] == '\0') {
        fprintf(stderr, "insncount: the argument out=PATH is required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_write, NULL);
    return 0;
}
