/* The floor of the fan-out benchmark: what one non-blocking send() per fork per tick costs
 * with nothing else around it (no encoding, no event loop, no interpreter).
 *
 *   floor HOST PORT FORKS FRAMES WARMUP RECORD MESSAGES [CA_FILE]
 *
 * MESSAGES holds the pre-built masked frames (written by clients/floor.py with mediacore's
 * encoder): u32 count, u32 length per frame, then the frames back to back; frame 0 is
 * `start`, frame k (k >= 1) is media k. Every fork sends the same bytes (same stream id), so
 * the sink's per-connection numbering checks hold. RECORD is the harness's record file
 * (record.py: 16 float64 header slots, then float64 write times [frame][fork], monotonic s).
 *
 * A fork's progress is a byte offset into the concatenated media frames: a send that is not
 * taken whole (a stall) leaves the offset inside a frame, and later ticks send from there;
 * a frame's write time is the time of the send that completed it. Built with -DFLOOR_TLS
 * (OpenSSL) it writes through SSL_write_ex on non-blocking sockets instead; CA_FILE given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef FLOOR_TLS
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

/* record.py's slots and statuses: keep in step */
enum { FORKS, FRAMES, WARMUP, CONNECTED, WRITTEN, STATUS, STALLS, CPU_START, CPU_END,
       CORE_START, CORE_END, WALL_START, WALL_END, CORE, HEADER_SLOTS = 16 };
enum { CONNECTING, RUNNING, DONE, OVERLOADED, FAILED };
#define TICK_S 0.020
#define ABANDON_LATE_S 1.0
#define FINAL_FLUSH_S 10.0

typedef struct {
    int fd;
    size_t pos;   /* bytes of the media stream this fork has sent */
    long next;    /* the first media frame (0-based) not completely sent */
#ifdef FLOOR_TLS
    SSL *ssl;
#endif
} fork_t;

static double *header, *times;

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds the core has not been idle since boot (record.core_busy_s). */
static double core_busy_s(int core) {
    char line[512], name[16];
    unsigned long long v[8] = {0};
    double busy = -1;
    snprintf(name, sizeof name, "cpu%d ", core);
    FILE *f = fopen("/proc/stat", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, name, strlen(name)) != 0) continue;
        sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / sysconf(_SC_CLK_TCK);
        break;
    }
    if (f) fclose(f);
    return busy;
}

static void mark(int start) {
    header[start ? CPU_START : CPU_END] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    header[start ? CORE_START : CORE_END] = core_busy_s((int)header[CORE]);
    header[start ? WALL_START : WALL_END] = clock_s(CLOCK_MONOTONIC);
}

static void die(const char *what) {
    if (header) header[STATUS] = FAILED;
    perror(what);
    exit(1);
}

static void *load(const char *path, size_t *size, int writable) {
    int fd = open(path, writable ? O_RDWR : O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) die(path);
    void *p = mmap(NULL, st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                   writable ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) die(path);
    close(fd);
    *size = st.st_size;
    return p;
}

/* Bytes taken (0 if none could be), or -1 on a real error. */
static ssize_t send_some(fork_t *f, const char *p, size_t n) {
#ifdef FLOOR_TLS
    size_t written;
    int r = SSL_write_ex(f->ssl, p, n, &written);
    if (r > 0) return (ssize_t)written;
    int e = SSL_get_error(f->ssl, r);
    return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : -1;
#else
    ssize_t r = send(f->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return r;
#endif
}

static void write_all(fork_t *f, const char *p, size_t n) {
    while (n) {
        ssize_t r = send_some(f, p, n);
        if (r <= 0) die("handshake write");
        p += r, n -= (size_t)r;
    }
}

static void read_head(fork_t *f) {
    char buf[4096];
    size_t used = 0;
    while (used < sizeof buf - 1) {
#ifdef FLOOR_TLS
        int r = SSL_read(f->ssl, buf + used, (int)(sizeof buf - 1 - used));
#else
        ssize_t r = recv(f->fd, buf + used, sizeof buf - 1 - used, 0);
#endif
        if (r <= 0) die("handshake read");
        used += (size_t)r;
        buf[used] = 0;
        if (strstr(buf, "\r\n\r\n")) {
            if (strncmp(buf, "HTTP/1.1 101", 12) != 0) { errno = EPROTO; die("handshake status"); }
            return;
        }
    }
    errno = EMSGSIZE;
    die("handshake head");
}

#ifdef FLOOR_TLS
static SSL_CTX *tls_context(const char *ca_file) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) die("TLS context");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}
#endif

static void open_fork(fork_t *f, long index, const char *host, int port, void *ctx,
                      const char *start, size_t start_len) {
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1;
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("host");
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    setsockopt(f->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef FLOOR_TLS
    f->ssl = SSL_new((SSL_CTX *)ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(f->ssl), host);
    SSL_set_fd(f->ssl, f->fd);
    if (SSL_connect(f->ssl) != 1) { errno = EPROTO; die("TLS handshake"); }
#else
    (void)ctx;
#endif
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET /fork/%ld HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", index, host, port);
    write_all(f, request, (size_t)n);
    read_head(f);
    write_all(f, start, start_len);
    fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
}

/* Send what fork i owes up to `target` bytes of the media stream; stamp completed frames. */
static int advance(fork_t *f, long i, long forks, long frames, const char *media,
                   const size_t *ends, size_t target) {
    ssize_t r = send_some(f, media + f->pos, target - f->pos);
    if (r < 0) die("send");
    f->pos += (size_t)r;
    double t = clock_s(CLOCK_MONOTONIC);
    while (f->next < frames && ends[f->next] <= f->pos)
        times[f->next++ * forks + i] = t;
    return f->pos < target;  /* 1: a stall */
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: %s HOST PORT FORKS FRAMES WARMUP RECORD MESSAGES [CA]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    long forks = atol(argv[3]), frames = atol(argv[4]), warmup = atol(argv[5]);
    size_t record_size, messages_size;
    header = load(argv[6], &record_size, 1);
    times = header + HEADER_SLOTS;
    const uint32_t *m = load(argv[7], &messages_size, 0);
    if (record_size < (HEADER_SLOTS + (size_t)forks * frames) * sizeof(double)
        || (long)m[0] != frames + 1) { errno = EINVAL; die("record or messages size"); }
    const char *start = (const char *)(m + 1 + m[0]), *media = start + m[1];
    size_t *ends = malloc(frames * sizeof *ends), end = 0;
    for (long k = 0; k < frames; k++) ends[k] = end += m[2 + k];
    void *ctx = NULL;
#ifdef FLOOR_TLS
    if (argc < 9) { errno = EINVAL; die("TLS needs a CA file"); }
    ctx = tls_context(argv[8]);
#endif
    fork_t *fs = calloc(forks, sizeof *fs);
    for (long i = 0; i < forks; i++) {
        open_fork(&fs[i], i, host, port, ctx, start, m[1]);
        header[CONNECTED] = i + 1;
    }
    for (size_t k = 0; k < (size_t)forks * frames; k += 512)  /* no page faults while measured */
        times[k] = times[k];
    header[STATUS] = RUNNING;
    double t0 = clock_s(CLOCK_MONOTONIC) + 0.05, stalls = 0;
    for (long n = 0; n < frames; n++) {
        double due = t0 + n * TICK_S;
        struct timespec ts = { (time_t)due, (long)((due - (time_t)due) * 1e9) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
        if (clock_s(CLOCK_MONOTONIC) - due > ABANDON_LATE_S) { header[STATUS] = OVERLOADED; break; }
        if (n == warmup) mark(1);
        for (long i = 0; i < forks; i++)
            stalls += advance(&fs[i], i, forks, frames, media, ends, ends[n]);
        header[WRITTEN] = (double)(n + 1) * forks;
        header[STALLS] = stalls;
    }
    mark(0);
    /* Final flush of stalled forks, bounded in time; what is left counts as loss. */
    long sent_to = header[STATUS] == OVERLOADED ? -1 : frames - 1;
    double give_up = clock_s(CLOCK_MONOTONIC) + FINAL_FLUSH_S;
    for (int pending = 1; pending && sent_to >= 0 && clock_s(CLOCK_MONOTONIC) < give_up;) {
        pending = 0;
        for (long i = 0; i < forks; i++)
            if (fs[i].pos < ends[sent_to])
                pending |= advance(&fs[i], i, forks, frames, media, ends, ends[sent_to]);
        if (pending) usleep(10000);
    }
    if (header[STATUS] == RUNNING) header[STATUS] = DONE;
    for (long i = 0; i < forks; i++) close(fs[i].fd);
    return 0;
}
