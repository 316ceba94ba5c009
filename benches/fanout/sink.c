/* The fan-out benchmark's sink in C: sink.py's program at a fraction of its CPU.
 *
 *   sink [--cert CERT --key KEY] [--core 1] [--batch-ms 20] [--drain-s 20] [--max-s 900]
 *        [--nice 0]
 *
 * Same contract as sink.py: prints `READY <port>` once listening on 127.0.0.1; `stop` on stdin
 * (or stdin's end) makes it drain (until every connection has closed, or --drain-s), print
 * sink.py's one-line JSON report and exit; it exits by itself after --max-s in any case.
 *
 * Theory of operation. One level-triggered epoll loop over non-blocking sockets, each
 * readable socket read once per round (TLS: every record waiting, at most 256), the loop
 * sleeping out the rest of --batch-ms once no connection has been set up for SETUP_QUIET_S,
 * exactly as sink.py. Per connection: TLS handshake (OpenSSL, SSL_accept without blocking),
 * then the HTTP Upgrade head (handshake.py's checks and texts), then frames (frames_in.py:
 * every frame of one read is parsed before any is handled, so an error drops the whole read
 * as the Python reader does), then each text message is checked as continuity.py's ForkCheck
 * checks it. The checks are Python's semantics on the JSON value orjson would return:
 * validation as strict as orjson (RFC 8259, valid UTF-8, paired surrogates, no infinity),
 * the last of duplicate keys wins, 1 == 1.0 == true, integers beyond 64 bits become floats,
 * and gap texts use Python's repr of the value (see repr_value for what is approximated).
 *
 * Where sink.py has no rule and C needs one, the sink refuses with a clear error instead:
 * a frame over MAX_FRAME_BYTES (sink.py buffers without limit), a ping whose payload is over
 * 125 bytes (sink.py would answer with a malformed pong, or crash past 255).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define READ_BYTES (1 << 18)
#define MAX_REQUEST_BYTES 16384        /* handshake.py */
#define MAX_FRAME_BYTES (1 << 20)      /* C only: websockets' default max_size */
#define SETUP_QUIET_S 0.5              /* sink.py */
#define ERRORS_KEPT 20
#define REPR_DEPTH 100                 /* deeper containers print as [...] / {...} */
#define GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { TLS, HTTP, OPEN };
enum { TEXT = 0x1, CLOSE = 0x8, PING = 0x9 };
static const unsigned char CLOSE_1000[] = {0x88, 0x02, 0x03, 0xe8};

typedef __int128 big_t;  /* Python ints here: 64-bit JSON integers, plus one */

/* ---- growable byte buffers --------------------------------------------------------------- */

typedef struct { char *p; size_t len, cap; } buf_t;

static void out_of_memory(void) {
    fputs("sink: out of memory\n", stderr);
    _exit(1);
}

static void buf_reserve(buf_t *b, size_t more) {
    if (more > SIZE_MAX / 2 - b->len) out_of_memory();
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) out_of_memory();
    b->p = p, b->cap = cap;
}

static void buf_put(buf_t *b, const void *s, size_t n) {
    if (!n) return;
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_putc(buf_t *b, char c) { buf_put(b, &c, 1); }
static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_printf(buf_t *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL, b->len = b->cap = 0;
}

static void put_big(buf_t *b, big_t v) {
    char tmp[48];
    int i = sizeof tmp;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    do { tmp[--i] = (char)('0' + (int)(u % 10)); u /= 10; } while (u);
    if (v < 0) tmp[--i] = '-';
    buf_put(b, tmp + i, sizeof tmp - (size_t)i);
}

/* ---- JSON values (orjson's acceptance, Python's semantics) ------------------------------- */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct {
    jtype_t type;
    const char *start, *end;  /* the value's text */
    big_t i;                  /* J_INT */
    double f;                 /* J_FLOAT */
} jval_t;

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return 0;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)p[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return 0;
    }
    *out = v;
    return 1;
}

static void put_utf8(buf_t *b, unsigned cp) {
    char s[4];
    if (cp < 0x80) { s[0] = (char)cp; buf_put(b, s, 1); }
    else if (cp < 0x800) {
        s[0] = (char)(0xc0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3f));
        buf_put(b, s, 2);
    } else if (cp < 0x10000) {
        s[0] = (char)(0xe0 | cp >> 12), s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        buf_put(b, s, 3);
    } else {
        s[0] = (char)(0xf0 | cp >> 18), s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), s[3] = (char)(0x80 | (cp & 0x3f));
        buf_put(b, s, 4);
    }
}

/* One UTF-8 sequence at p (strict: no overlongs, no surrogates, <= U+10FFFF): its length and
 * code point, or 0 when invalid. */
static int utf8_next(const unsigned char *p, const unsigned char *end, unsigned *cp) {
    unsigned c = p[0];
    int n;
    unsigned min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000, c &= 0x07;
    else return 0;
    if (end - p < n) return 0;
    for (int k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) return 0;
        c = c << 6 | (p[k] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return n;
}

/* The string at p (at its opening quote): validated, decoded into `out` when given; the
 * position after its closing quote, or NULL when invalid. */
static const char *scan_string(const char *p, const char *end, buf_t *out) {
    p++;
    for (;;) {
        const char *run = p;
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20
               && (unsigned char)*p < 0x80) p++;
        if (out) buf_put(out, run, (size_t)(p - run));
        if (p >= end) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c >= 0x80) {
            unsigned cp;
            int n = utf8_next((const unsigned char *)p, (const unsigned char *)end, &cp);
            if (!n) return NULL;
            if (out) buf_put(out, p, (size_t)n);
            p += n;
            continue;
        }
        /* a backslash */
        if (end - p < 2) return NULL;
        char e = p[1];
        p += 2;
        unsigned cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (!hex4(p, end, &cp)) return NULL;
            p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) return NULL;  /* a low surrogate first */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo)
                    || lo < 0xdc00 || lo > 0xdfff) return NULL;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            break;
        default: return NULL;
        }
        if (out) put_utf8(out, cp);
    }
}

static const char *scan_number(const char *p, const char *end, jval_t *v) {
    const char *s = p;
    int is_float = 0;
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else return NULL;
    if (p < end && *p == '.') {
        p++, is_float = 1;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++, is_float = 1;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    size_t n = (size_t)(p - s);
    int neg = *s == '-';
    if (!is_float && n - (size_t)neg <= 20) {  /* orjson: i64 or u64, else a float */
        unsigned __int128 u = 0;
        for (const char *d = s + neg; d < p; d++) u = u * 10 + (unsigned)(*d - '0');
        if (neg ? u <= (unsigned __int128)1 << 63 : u <= UINT64_MAX) {
            v->type = J_INT;
            v->i = neg ? -(big_t)u : (big_t)u;
            return p;
        }
    }
    char small[64], *text = n < sizeof small ? small : malloc(n + 1);
    if (!text) out_of_memory();
    memcpy(text, s, n);
    text[n] = 0;
    v->type = J_FLOAT;
    v->f = strtod(text, NULL);
    if (text != small) free(text);
    return isinf(v->f) ? NULL : p;  /* orjson: "number is infinity when parsed as double" */
}

static const char *scan_literal(const char *p, const char *end, const char *word) {
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *scan_scalar(const char *p, const char *end, jval_t *v) {
    if (p >= end) return NULL;
    switch (*p) {
    case '"': v->type = J_STR; return scan_string(p, end, NULL);
    case 't': v->type = J_TRUE; return scan_literal(p, end, "true");
    case 'f': v->type = J_FALSE; return scan_literal(p, end, "false");
    case 'n': v->type = J_NULL; return scan_literal(p, end, "null");
    default: return scan_number(p, end, v);
    }
}

/* Validate the array or object at p without recursion (any depth: the stack is the nesting
 * of brackets seen, at most one byte each); the position after it, or NULL. */
static const char *skip_container(const char *p, const char *end) {
    static buf_t stack;  /* kept: no allocation per message (never re-entered) */
    stack.len = 0;
    jval_t scalar;
    const char *result = NULL;
    buf_putc(&stack, *p++);
    int want_value = 0;  /* 0: just opened or after a comma; checks below */
    int first = 1;
    while (stack.len) {
        char top = stack.p[stack.len - 1];
        p = skip_ws(p, end);
        if (p >= end) goto done;
        if (!want_value) {
            char closer = top == '[' ? ']' : '}';
            if (first && *p == closer) { stack.len--, p++; goto after_value; }
            if (top == '{') {
                if (*p != '"' || !(p = scan_string(p, end, NULL))) goto done;
                p = skip_ws(p, end);
                if (p >= end || *p != ':') goto done;
                p = skip_ws(p + 1, end);
            }
            want_value = 1;
            continue;
        }
        /* a value */
        if (*p == '[' || *p == '{') {
            buf_putc(&stack, *p++);
            want_value = 0, first = 1;
            continue;
        }
        if (!(p = scan_scalar(p, end, &scalar))) goto done;
    after_value:
        want_value = 0, first = 0;
        if (!stack.len) break;
        p = skip_ws(p, end);
        if (p >= end) goto done;
        top = stack.p[stack.len - 1];
        if (*p == ',') { p++; continue; }
        if (*p == (top == '[' ? ']' : '}')) { stack.len--, p++; goto after_value; }
        goto done;
    }
    result = p;
done:
    return result;
}

static const char *scan_value(const char *p, const char *end, jval_t *v) {
    if (p >= end) return NULL;
    v->start = p;
    if (*p == '[' || *p == '{') {
        v->type = *p == '[' ? J_ARR : J_OBJ;
        p = skip_container(p, end);
    } else {
        p = scan_scalar(p, end, v);
    }
    v->end = p;
    return p;
}

/* The members of the object at p named in keys[0..n): found[k] set, values[k] the last one.
 * The position after the object, or NULL when it is not valid JSON. */
static const char *object_members(const char *p, const char *end, const char *const *keys,
                                  int n, jval_t *values, int *found) {
    static buf_t key;  /* kept: no allocation per message (never re-entered) */
    const char *result = NULL;
    for (int k = 0; k < n; k++) found[k] = 0;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') { result = p + 1; goto done; }
    for (;;) {
        if (p >= end || *p != '"') goto done;
        key.len = 0;
        if (!(p = scan_string(p, end, &key))) goto done;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') goto done;
        jval_t v;
        if (!(p = scan_value(skip_ws(p + 1, end), end, &v))) goto done;
        for (int k = 0; k < n; k++)
            if (key.len == strlen(keys[k]) && memcmp(key.p, keys[k], key.len) == 0)
                values[k] = v, found[k] = 1;
        p = skip_ws(p, end);
        if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
        if (p < end && *p == '}') { result = p + 1; goto done; }
        goto done;
    }
done:
    return result;
}

/* Append a string value's decoded UTF-8 to `out` (the value was validated). */
static void decode_string(const jval_t *v, buf_t *out) {
    scan_string(v->start, v->end, out);
}

static int is_int(const jval_t *v) { return v->type == J_INT || v->type == J_TRUE || v->type == J_FALSE; }
static big_t int_of(const jval_t *v) { return v->type == J_INT ? v->i : v->type == J_TRUE; }

/* Python's `v == n` for an int n. */
static int equals_int(const jval_t *v, big_t n) {
    if (is_int(v)) return int_of(v) == n;
    if (v->type != J_FLOAT || v->f != floor(v->f) || fabs(v->f) > 0x1p100) return 0;
    return (big_t)v->f == n;
}

/* ---- Python's repr of a JSON value ------------------------------------------------------- */

/* Python's str.isprintable for a code point: exact for ASCII and Latin-1 and the common
 * invisible code points; other non-ASCII ones (e.g. unassigned) are taken as printable. */
static int printable(unsigned cp) {
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) return 0;
    if (cp < 0x100) return 1;
    return !(cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f)
             || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff
             || (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xfff9 && cp <= 0xfffb)
             || cp >= 0xf0000 || cp == 0x061c || cp == 0x180e);
}

/* repr() of a str given as UTF-8 (valid, from a decoded JSON string). */
static void repr_text(buf_t *b, const char *s, size_t n) {
    int single = 0, dbl = 0;
    for (size_t k = 0; k < n; k++) single |= s[k] == '\'', dbl |= s[k] == '"';
    char quote = single && !dbl ? '"' : '\'';
    buf_putc(b, quote);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned cp;
        int len = utf8_next(p, end, &cp);
        if (!len) cp = *p, len = 1;  /* not reached: the text was validated */
        if (cp == (unsigned)quote || cp == '\\') { buf_putc(b, '\\'); buf_putc(b, (char)cp); }
        else if (cp == '\t') buf_puts(b, "\\t");
        else if (cp == '\n') buf_puts(b, "\\n");
        else if (cp == '\r') buf_puts(b, "\\r");
        else if (printable(cp)) buf_put(b, p, (size_t)len);
        else if (cp < 0x100) buf_printf(b, "\\x%02x", cp);
        else if (cp < 0x10000) buf_printf(b, "\\u%04x", cp);
        else buf_printf(b, "\\U%08x", cp);
        p += len;
    }
    buf_putc(b, quote);
}

/* repr() of a float: the shortest text that reads back, in Python's layout (1e+16, 1e-05,
 * 1000000000000000.0, 0.0001). */
static void repr_float(buf_t *b, double f) {
    char text[40];
    if (isnan(f)) { buf_puts(b, "nan"); return; }
    if (isinf(f)) { buf_puts(b, f < 0 ? "-inf" : "inf"); return; }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*e", digits - 1, f);
        if (strtod(text, NULL) == f) break;
    }
    /* text: [-]d[.ddd]e[+-]xx */
    const char *p = text;
    if (*p == '-') { buf_putc(b, '-'); p++; }
    char mant[20];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd < (int)sizeof mant) mant[nd++] = *p;
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && mant[nd - 1] == '0') nd--;
    int point = exp + 1;  /* digits before the decimal point */
    if (point > -4 && point <= 16) {  /* Python: exponent form when decpt <= -4 or > 16 */
        if (point <= 0) {
            buf_puts(b, "0.");
            for (int k = 0; k < -point; k++) buf_putc(b, '0');
            buf_put(b, mant, (size_t)nd);
        } else if (point >= nd) {
            buf_put(b, mant, (size_t)nd);
            for (int k = nd; k < point; k++) buf_putc(b, '0');
            buf_puts(b, ".0");
        } else {
            buf_put(b, mant, (size_t)point);
            buf_putc(b, '.');
            buf_put(b, mant + point, (size_t)(nd - point));
        }
    } else {
        buf_putc(b, mant[0]);
        if (nd > 1) { buf_putc(b, '.'); buf_put(b, mant + 1, (size_t)(nd - 1)); }
        buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

/* repr() of the dict at p (validated): each key once, where it first came, with its last
 * value, as the dict orjson builds. */
static void repr_dict(buf_t *b, const char *p, const char *end, int depth);

/* repr() of the (validated) value at p; the position after it. Past REPR_DEPTH levels,
 * containers print as [...] / {...} (Python would raise RecursionError much deeper). */
static const char *repr_value(buf_t *b, const char *p, const char *end, int depth) {
    jval_t v;
    p = skip_ws(p, end);
    if (!scan_value(p, end, &v)) return NULL;
    switch (v.type) {
    case J_NULL: buf_puts(b, "None"); break;
    case J_TRUE: buf_puts(b, "True"); break;
    case J_FALSE: buf_puts(b, "False"); break;
    case J_INT: put_big(b, v.i); break;
    case J_FLOAT: repr_float(b, v.f); break;
    case J_STR: {
        buf_t text = {0};
        decode_string(&v, &text);
        repr_text(b, text.p ? text.p : "", text.len);
        buf_free(&text);
        break;
    }
    case J_OBJ:
        if (depth >= REPR_DEPTH) buf_puts(b, "{...}");
        else repr_dict(b, p, v.end, depth);
        break;
    case J_ARR: {
        if (depth >= REPR_DEPTH) { buf_puts(b, "[...]"); break; }
        buf_putc(b, '[');
        const char *q = skip_ws(p + 1, v.end);
        for (int items = 0; q && q < v.end && *q != ']'; items++) {
            if (items) buf_puts(b, ", ");
            if (!(q = repr_value(b, q, v.end, depth + 1))) break;
            q = skip_ws(q, v.end);
            if (q < v.end && *q == ',') q = skip_ws(q + 1, v.end);
        }
        buf_putc(b, ']');
        break;
    }
    }
    return v.end;
}

static void repr_dict(buf_t *b, const char *p, const char *end, int depth) {
    typedef struct { buf_t key; const char *value; } member_t;
    member_t *members = NULL;
    size_t n = 0, cap = 0;
    const char *q = skip_ws(p + 1, end);
    while (q && q < end && *q == '"') {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            member_t *grown = realloc(members, cap * sizeof *grown);
            if (!grown) out_of_memory();
            members = grown;
        }
        member_t *m = &members[n];
        memset(m, 0, sizeof *m);
        q = scan_string(q, end, &m->key);
        q = q ? skip_ws(q, end) : NULL;
        if (!q || q >= end || *q != ':') { buf_free(&m->key); break; }
        jval_t v;
        const char *value = skip_ws(q + 1, end);
        q = scan_value(value, end, &v);
        size_t k = 0;
        while (k < n && !(members[k].key.len == m->key.len
                          && memcmp(members[k].key.p, m->key.p, m->key.len) == 0)) k++;
        if (k < n) { members[k].value = value; buf_free(&m->key); }
        else m->value = value, n++;
        q = q ? skip_ws(q, end) : NULL;
        if (q && q < end && *q == ',') q = skip_ws(q + 1, end);
    }
    buf_putc(b, '{');
    for (size_t k = 0; k < n; k++) {
        if (k) buf_puts(b, ", ");
        repr_text(b, members[k].key.p ? members[k].key.p : "", members[k].key.len);
        buf_puts(b, ": ");
        repr_value(b, members[k].value, end, depth + 1);
        buf_free(&members[k].key);
    }
    buf_putc(b, '}');
    free(members);
}

/* str() of a value: a string's own text, else its repr. */
static void str_value(buf_t *b, const jval_t *v) {
    if (v->type != J_STR) { repr_value(b, v->start, v->end, 0); return; }
    buf_t text = {0};
    decode_string(v, &text);
    buf_put(b, text.p, text.len);
    buf_free(&text);
}

/* ---- continuity.py's ForkCheck ----------------------------------------------------------- */

typedef struct track {
    char *key;      /* a Python dict key: type letter + text, so 1, 1.0 and true are one */
    size_t key_len;
    big_t next_chunk;
    struct track *next;
} track_t;

typedef struct {
    char *fork;     /* the fork index as decimal digits (a Python int: no size limit) */
    size_t fork_len;
    long long media, messages;
    int started;
    big_t next_sequence;
    track_t *tracks;
    char *gap;      /* the first broken invariant, NUL-terminated UTF-8, or NULL */
    size_t gap_len;
} check_t;

static void broken(check_t *c, buf_t *what) {
    if (c->gap) return;
    buf_t gap = {0};
    buf_puts(&gap, "message ");
    buf_printf(&gap, "%lld", c->messages);
    buf_puts(&gap, ": ");
    buf_put(&gap, what->p, what->len);
    c->gap = gap.p, c->gap_len = gap.len;
}

static void track_key(buf_t *key, const jval_t *v) {
    key->len = 0;
    if (v->type == J_STR) { buf_putc(key, 's'); decode_string(v, key); }
    else if (is_int(v) || (v->type == J_FLOAT && v->f == floor(v->f) && fabs(v->f) < 0x1p100)) {
        buf_putc(key, 'n');
        put_big(key, is_int(v) ? int_of(v) : (big_t)v->f);
    } else if (v->type == J_FLOAT) { buf_putc(key, 'f'); repr_float(key, v->f); }
    else if (v->type == J_NULL) buf_putc(key, 'z');
    else { buf_putc(key, 'x'); buf_put(key, v->start, (size_t)(v->end - v->start)); }
}

static track_t *find_track(check_t *c, const buf_t *key) {
    for (track_t *t = c->tracks; t; t = t->next)
        if (t->key_len == key->len && memcmp(t->key, key->p, key->len) == 0) return t;
    track_t *t = calloc(1, sizeof *t);
    if (!t || !(t->key = malloc(key->len ? key->len : 1))) out_of_memory();
    memcpy(t->key, key->p, key->len);
    t->key_len = key->len;
    t->next_chunk = 1;
    t->next = c->tracks;
    c->tracks = t;
    return t;
}

static int is_string(const jval_t *v, const char *s, buf_t *scratch) {
    if (v->type != J_STR) return 0;
    size_t n = strlen(s);
    /* fast path: no escapes in the text */
    if ((size_t)(v->end - v->start) == n + 2 && memcmp(v->start + 1, s, n) == 0) return 1;
    scratch->len = 0;
    decode_string(v, scratch);
    return scratch->len == n && memcmp(scratch->p, s, n) == 0;
}

static void check_message(check_t *c, const char *text, size_t n) {
    static const char *const top_keys[] = {"event", "sequenceNumber", "media"};
    static const char *const media_keys[] = {"track", "chunk"};
    static buf_t why, scratch;
    jval_t top[3], media[2];
    int found[3] = {0}, media_found[2] = {0};
    const char *p, *end = text + n;
    why.len = 0;
    c->messages++;
    p = skip_ws(text, end);
    if (p < end && *p == '{') {
        p = object_members(p, end, top_keys, 3, top, found);
    } else {
        jval_t ignored;
        p = scan_value(p, end, &ignored);
        found[0] = 0;
    }
    if (!p || skip_ws(p, end) != end || !found[0] || !found[1]) {
        buf_puts(&why, "not a JSON object with event and sequenceNumber");
        broken(c, &why);
        return;
    }
    const jval_t *event = &top[0], *sequence = &top[1];
    int is_start = is_string(event, "start", &scratch);
    if (!c->started && !is_start && !c->gap) {
        buf_puts(&why, "first message is ");
        repr_value(&why, event->start, event->end, 0);
        buf_puts(&why, ", not 'start'");
        broken(c, &why);
    }
    if (!equals_int(sequence, c->next_sequence) && !c->gap) {
        why.len = 0;
        buf_puts(&why, "sequenceNumber ");
        repr_value(&why, sequence->start, sequence->end, 0);
        buf_puts(&why, ", expected ");
        put_big(&why, c->next_sequence);
        broken(c, &why);
    }
    if (is_int(sequence)) c->next_sequence = int_of(sequence) + 1;
    if (is_start) { c->started = 1; return; }
    if (!is_string(event, "media", &scratch)) return;
    c->media++;
    if (!found[2] || top[2].type != J_OBJ
        || !object_members(top[2].start, top[2].end, media_keys, 2, media, media_found)
        || !media_found[0] || !media_found[1]) {
        why.len = 0;
        buf_puts(&why, "media without media.track and media.chunk");
        broken(c, &why);
        return;
    }
    track_key(&scratch, &media[0]);
    track_t *track = find_track(c, &scratch);
    if (!equals_int(&media[1], track->next_chunk) && !c->gap) {
        why.len = 0;
        str_value(&why, &media[0]);
        buf_puts(&why, " chunk ");
        repr_value(&why, media[1].start, media[1].end, 0);
        buf_puts(&why, ", expected ");
        put_big(&why, track->next_chunk);
        broken(c, &why);
    }
    if (is_int(&media[1])) track->next_chunk = int_of(&media[1]) + 1;
}

/* The checks by fork index (a hash table on the digits: the sink's forks are few thousand). */
static check_t **checks;
static size_t checks_cap, checks_len;

static uint64_t hash_digits(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t k = 0; k < n; k++) h = (h ^ (unsigned char)s[k]) * 1099511628211ULL;
    return h;
}

static check_t *check_for(const char *digits, size_t n) {
    if (checks_len * 2 >= checks_cap) {
        size_t cap = checks_cap ? checks_cap * 2 : 1024;
        check_t **grown = calloc(cap, sizeof *grown);
        if (!grown) out_of_memory();
        for (size_t k = 0; k < checks_cap; k++) {
            if (!checks[k]) continue;
            size_t at = hash_digits(checks[k]->fork, checks[k]->fork_len) & (cap - 1);
            while (grown[at]) at = (at + 1) & (cap - 1);
            grown[at] = checks[k];
        }
        free(checks);
        checks = grown, checks_cap = cap;
    }
    size_t at = hash_digits(digits, n) & (checks_cap - 1);
    for (; checks[at]; at = (at + 1) & (checks_cap - 1))
        if (checks[at]->fork_len == n && memcmp(checks[at]->fork, digits, n) == 0)
            return checks[at];
    check_t *c = calloc(1, sizeof *c);
    if (!c || !(c->fork = malloc(n))) out_of_memory();
    memcpy(c->fork, digits, n);
    c->fork_len = n;
    c->next_sequence = 1;
    checks[at] = c;
    checks_len++;
    return c;
}

/* ---- handshake.py's respond -------------------------------------------------------------- */

static int is_space(unsigned char c) {  /* Python's bytes \s */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void repr_bytes(buf_t *b, const char *s, size_t n) {
    int single = memchr(s, '\'', n) != NULL, dbl = memchr(s, '"', n) != NULL;
    char quote = single && !dbl ? '"' : '\'';
    buf_puts(b, "b");
    buf_putc(b, quote);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == (unsigned char)quote || c == '\\') { buf_putc(b, '\\'); buf_putc(b, (char)c); }
        else if (c == '\t') buf_puts(b, "\\t");
        else if (c == '\n') buf_puts(b, "\\n");
        else if (c == '\r') buf_puts(b, "\\r");
        else if (c < 0x20 || c >= 0x7f) buf_printf(b, "\\x%02x", c);
        else buf_putc(b, (char)c);
    }
    buf_putc(b, quote);
}

/* The request head (ending in \r\n\r\n): 1 and the fork's digits (no leading zeros) and the
 * 101 response, or 0 and the error text. */
static int respond(const char *req, size_t n, buf_t *fork, buf_t *response, buf_t *error) {
    static const char prefix[] = "sec-websocket-key:";
    const size_t prefix_len = sizeof prefix - 1;
    const char *end = req + n, *path = NULL, *key = NULL;
    size_t path_len = 0, key_len = 0;
    if (n > 4 && memcmp(req, "GET ", 4) == 0) {
        const char *p = req + 4;
        while (p < end && !is_space((unsigned char)*p)) p++;
        if (p > req + 4 && (size_t)(end - p) >= 11 && memcmp(p, " HTTP/1.1\r\n", 11) == 0)
            path = req + 4, path_len = (size_t)(p - path);
    }
    /* ^sec-websocket-key:[ \t]*(\S+)[ \t]*\r?$, case-insensitive, the first line matching */
    for (const char *line = req; line < end && !key;) {
        const char *p = line;
        if ((size_t)(end - p) >= prefix_len && strncasecmp(p, prefix, prefix_len) == 0) {
            p += prefix_len;
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            const char *k = p;
            while (p < end && !is_space((unsigned char)*p)) p++;
            const char *k_end = p;
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            if (p < end && *p == '\r') p++;
            if (k_end > k && (p == end || *p == '\n')) key = k, key_len = (size_t)(k_end - k);
        }
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        line = nl ? nl + 1 : end;
    }
    if (!path || !key) {
        buf_puts(error, "not a WebSocket upgrade request");
        return 0;
    }
    /* /fork/(\d+)$ in the path: its trailing digits, right after "/fork/" */
    size_t digits = 0;
    while (digits < path_len && path[path_len - 1 - digits] >= '0'
           && path[path_len - 1 - digits] <= '9') digits++;
    if (!digits || path_len - digits < 6 || memcmp(path + path_len - digits - 6, "/fork/", 6)) {
        buf_puts(error, "path ");
        repr_bytes(error, path, path_len);
        buf_puts(error, " is not /fork/<index>");
        return 0;
    }
    const char *d = path + path_len - digits;
    while (digits > 1 && *d == '0') d++, digits--;
    buf_put(fork, d, digits);
    unsigned char md[EVP_MAX_MD_SIZE], accept[64];
    unsigned md_len = 0;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    if (!sha || !EVP_DigestInit_ex(sha, EVP_sha1(), NULL) || !EVP_DigestUpdate(sha, key, key_len)
        || !EVP_DigestUpdate(sha, GUID, sizeof GUID - 1) || !EVP_DigestFinal_ex(sha, md, &md_len)
        || md_len != 20) {
        EVP_MD_CTX_free(sha);
        buf_puts(error, "SHA-1 unavailable");
        return 0;
    }
    EVP_MD_CTX_free(sha);
    int accept_len = EVP_EncodeBlock(accept, md, 20);
    buf_puts(response, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    buf_put(response, accept, (size_t)accept_len);
    buf_puts(response, "\r\n\r\n");
    return 1;
}

/* ---- the sink ---------------------------------------------------------------------------- */

typedef struct {
    int fd, state;
    SSL *ssl;
    buf_t head;     /* the request head so far (HTTP) */
    buf_t rest;     /* a partial frame (OPEN) */
    check_t *check;
} conn_t;

static SSL_CTX *ctx;
static int ep, listener;
static double batch_s;
static conn_t **conns;  /* by fd */
static size_t conns_cap, open_conns;
static long long accepted, error_count;
static char *errors[ERRORS_KEPT];
static double media_cpu = -1, media_wall;
static unsigned char *rbuf;

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void add_error(const char *text, size_t n) {
    if (error_count < ERRORS_KEPT) {
        char *copy = malloc(n + 1);
        if (!copy) out_of_memory();
        memcpy(copy, text, n);
        copy[n] = 0;
        errors[error_count] = copy;
    }
    error_count++;
}

static void add_errorf(const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    add_error(text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void close_conn(conn_t *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    conns[c->fd] = NULL;
    open_conns--;
    if (c->ssl) SSL_free(c->ssl);  /* no close_notify, as an SSLSocket's close() */
    close(c->fd);
    buf_free(&c->head);
    buf_free(&c->rest);
    free(c);
}

/* OpenSSL 3 reports a TCP close without close_notify as an error: Python's SSLEOFError. */
static int unexpected_eof(unsigned long e) {
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    return ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#else
    (void)e;
    return 0;
#endif
}

/* Python's str() of the last OpenSSL error ("[SSL: REASON] reason text"; Python adds the
 * location in _ssl.c, which has no counterpart here), or of errno. */
static void tls_error_text(int ssl_error, char *out, size_t size) {
    unsigned long e = ERR_peek_last_error();
    if (ssl_error == SSL_ERROR_SSL && e) {
        const char *reason = ERR_reason_error_string(e);
        char upper[128];
        size_t k = 0;
        for (; reason && reason[k] && k < sizeof upper - 1; k++)
            upper[k] = reason[k] == ' ' ? '_' : (char)(reason[k] >= 'a' && reason[k] <= 'z'
                                                        ? reason[k] - 32 : reason[k]);
        upper[k] = 0;
        if (unexpected_eof(e)) reason = "EOF occurred in violation of protocol";  /* Python's */
        snprintf(out, size, "[SSL: %s] %s", upper, reason ? reason : "unknown error");
    } else if (ssl_error == SSL_ERROR_SYSCALL && errno) {
        snprintf(out, size, "[Errno %d] %s", errno, strerror(errno));
    } else {
        snprintf(out, size, "EOF occurred in violation of protocol");
    }
    ERR_clear_error();
}

static void send_quietly(conn_t *c, const void *data, size_t n) {
    if (c->ssl) {
        size_t written;
        if (SSL_write_ex(c->ssl, data, n, &written) != 1) ERR_clear_error();
    } else {
        ssize_t r = send(c->fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)r;  /* the client is going away: its count is already final */
    }
}

static void fork_error(conn_t *c, const char *what) {
    buf_t text = {0};
    buf_puts(&text, "fork ");
    buf_put(&text, c->check->fork, c->check->fork_len);
    buf_puts(&text, ": ");
    buf_puts(&text, what);
    add_error(text.p, text.len);
    buf_free(&text);
    close_conn(c);
}

static void unmask(unsigned char *p, size_t n, const unsigned char *key) {
    uint64_t k8;
    unsigned char kk[8];
    memcpy(kk, key, 4), memcpy(kk + 4, key, 4);
    memcpy(&k8, kk, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k8;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++) p[i] ^= key[i & 3];
}

/* frames_in.py's FrameReader.feed then sink.py's handling of the frames; 0 when the
 * connection was closed. */
static int frames_received(conn_t *c, unsigned char *data, size_t len) {
    if (c->rest.len) {
        buf_put(&c->rest, data, len);
        data = (unsigned char *)c->rest.p, len = c->rest.len;
    }
    /* pass 1: the frame heads (an error drops every frame of this read, as in Python) */
    size_t pos = 0, frames = 0;
    char what[96];
    while (len - pos >= 2) {
        unsigned b0 = data[pos], b1 = data[pos + 1];
        uint64_t size = b1 & 0x7f;
        size_t p = pos + 2;
        if (size == 126) {
            if (len - p < 2) break;
            size = (uint64_t)data[p] << 8 | data[p + 1], p += 2;
        } else if (size == 127) {
            if (len - p < 8) break;
            size = 0;
            for (int k = 0; k < 8; k++) size = size << 8 | data[p + k];
            p += 8;
        }
        if (!(b1 & 0x80)) { fork_error(c, "unmasked client frame"); return 0; }
        if (!(b0 & 0x80)) { fork_error(c, "fragmented message (FIN not set)"); return 0; }
        if (size > MAX_FRAME_BYTES) {
            snprintf(what, sizeof what, "frame of %llu bytes (the limit is %d)",
                     (unsigned long long)size, MAX_FRAME_BYTES);
            fork_error(c, what);
            return 0;
        }
        if (len - p < 4 + size) break;
        pos = p + 4 + (size_t)size;
        frames++;
    }
    size_t complete = pos;
    if (frames && media_cpu < 0)
        media_cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID), media_wall = clock_s(CLOCK_MONOTONIC);
    /* pass 2: handle them */
    int open = 1;
    for (pos = 0; pos < complete;) {
        unsigned opcode = data[pos] & 0x0f, n7 = data[pos + 1] & 0x7f;
        size_t p = pos + 2 + (n7 == 126 ? 2 : n7 == 127 ? 8 : 0), size;
        if (n7 < 126) size = n7;
        else if (n7 == 126) size = (size_t)data[pos + 2] << 8 | data[pos + 3];
        else { size = 0; for (int k = 0; k < 8; k++) size = size << 8 | data[pos + 2 + k]; }
        unsigned char *payload = data + p + 4;
        unmask(payload, size, data + p);
        pos = p + 4 + size;
        if (opcode == TEXT) {
            check_message(c->check, (const char *)payload, size);
        } else if (opcode == CLOSE) {
            send_quietly(c, CLOSE_1000, sizeof CLOSE_1000);
            close_conn(c);
            open = 0;
            break;
        } else if (opcode == PING) {
            if (size > 125) {
                snprintf(what, sizeof what,
                         "ping of %zu bytes (a control frame carries at most 125)", size);
                fork_error(c, what);
                open = 0;
                break;
            }
            unsigned char pong[2 + 125];
            pong[0] = 0x8a, pong[1] = (unsigned char)size;
            memcpy(pong + 2, payload, size);
            send_quietly(c, pong, 2 + size);
        }
    }
    if (!open) return 0;
    if (data == (unsigned char *)c->rest.p) {
        memmove(c->rest.p, c->rest.p + complete, len - complete);
        c->rest.len = len - complete;
    } else {
        buf_put(&c->rest, data + complete, len - complete);
    }
    return 1;
}

/* sink.py's Sink.received: 0 when the connection was closed. */
static int received(conn_t *c, unsigned char *data, size_t n) {
    if (c->state == HTTP) {
        size_t from = c->head.len > 3 ? c->head.len - 3 : 0;
        buf_put(&c->head, data, n);
        const char *found = memmem(c->head.p + from, c->head.len - from, "\r\n\r\n", 4);
        if (!found) {
            if (c->head.len > MAX_REQUEST_BYTES) {
                add_errorf("request head too long");
                close_conn(c);
                return 0;
            }
            return 1;
        }
        size_t head_len = (size_t)(found - c->head.p) + 4;
        buf_t fork = {0}, response = {0}, error = {0};
        int ok = respond(c->head.p, head_len, &fork, &response, &error);
        if (!ok) {
            add_error(error.p, error.len);
            buf_free(&error);
            close_conn(c);
            return 0;
        }
        send_quietly(c, response.p, response.len);
        c->check = check_for(fork.p, fork.len);
        buf_free(&fork), buf_free(&response);
        c->state = OPEN;
        size_t left = c->head.len - head_len;
        if (!left) { buf_free(&c->head); return 1; }
        /* what followed the head: the first frames (copied out: rbuf may hold them) */
        unsigned char *after = malloc(left);
        if (!after) out_of_memory();
        memcpy(after, c->head.p + head_len, left);
        buf_free(&c->head);
        int open = frames_received(c, after, left);
        free(after);
        return open;
    }
    return frames_received(c, data, n);
}

static void service(conn_t *c) {
    if (c->state == TLS) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_accept(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
            char text[256];
            tls_error_text(e, text, sizeof text);
            add_errorf("TLS handshake: %s", text);
            close_conn(c);
            return;
        }
        c->state = HTTP;
    }
    for (int round = 0; round < 256; round++) {
        size_t n;
        if (c->ssl) {
            errno = 0;
            int r = SSL_read_ex(c->ssl, rbuf, READ_BYTES, &n);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
                unsigned long last = ERR_peek_last_error();
                int eof = e == SSL_ERROR_ZERO_RETURN
                          || (e == SSL_ERROR_SYSCALL
                              && (errno == 0 || errno == ECONNRESET || errno == EPIPE))
                          || (e == SSL_ERROR_SSL && unexpected_eof(last));
                if (!eof) {
                    char text[256];
                    tls_error_text(e, text, sizeof text);
                    add_errorf("recv: %s", text);
                }
                ERR_clear_error();
                close_conn(c);
                return;
            }
        } else {
            ssize_t r = recv(c->fd, rbuf, READ_BYTES, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == EINTR) continue;
                if (errno != ECONNRESET && errno != EPIPE)
                    add_errorf("recv: [Errno %d] %s", errno, strerror(errno));
                close_conn(c);
                return;
            }
            n = (size_t)r;
        }
        if (n == 0) { close_conn(c); return; }
        if (!received(c, rbuf, n)) return;
        if (!c->ssl && n < READ_BYTES) return;
    }
}

static void accept_some(void) {
    static int reported;
    for (int k = 0; k < 4096; k++) {  /* bounded: the rest wait for the next round */
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (!reported) add_errorf("accept: [Errno %d] %s", errno, strerror(errno));
            reported = 1;  /* e.g. out of file descriptors: once, not once per round */
            return;
        }
        /* TLS sends the 101 after its own records: without this, Nagle holds it for the
         * client's delayed ACK (40 ms per connection) */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        if (!c) out_of_memory();
        c->fd = fd, c->state = HTTP;
        if (ctx) {
            if (!(c->ssl = SSL_new(ctx)) || SSL_set_fd(c->ssl, fd) != 1) out_of_memory();
            c->state = TLS;
        }
        if ((size_t)fd >= conns_cap) {
            size_t cap = conns_cap ? conns_cap : 1024;
            while (cap <= (size_t)fd) cap *= 2;
            conn_t **grown = realloc(conns, cap * sizeof *grown);
            if (!grown) out_of_memory();
            memset(grown + conns_cap, 0, (cap - conns_cap) * sizeof *grown);
            conns = grown, conns_cap = cap;
        }
        conns[fd] = c;
        accepted++, open_conns++;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            add_errorf("epoll: [Errno %d] %s", errno, strerror(errno));
            close_conn(c);
        }
    }
}

/* ---- the report -------------------------------------------------------------------------- */

static void json_string(buf_t *b, const char *s, size_t n) {  /* json.dumps: ensure_ascii */
    buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned cp;
        int len = utf8_next(p, end, &cp);
        if (!len) cp = 0xfffd, len = 1;
        if (cp == '"') buf_puts(b, "\\\"");
        else if (cp == '\\') buf_puts(b, "\\\\");
        else if (cp == '\n') buf_puts(b, "\\n");
        else if (cp == '\r') buf_puts(b, "\\r");
        else if (cp == '\t') buf_puts(b, "\\t");
        else if (cp == '\b') buf_puts(b, "\\b");
        else if (cp == '\f') buf_puts(b, "\\f");
        else if (cp >= 0x20 && cp < 0x7f) buf_putc(b, (char)cp);
        else if (cp < 0x10000) buf_printf(b, "\\u%04x", cp);
        else {
            cp -= 0x10000;
            buf_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        }
        p += len;
    }
    buf_putc(b, '"');
}

static int by_fork(const void *a, const void *b) {
    const check_t *x = *(check_t *const *)a, *y = *(check_t *const *)b;
    if (x->fork_len != y->fork_len) return x->fork_len < y->fork_len ? -1 : 1;
    return memcmp(x->fork, y->fork, x->fork_len);
}

static void report(void) {
    buf_t b = {0};
    check_t **sorted = malloc((checks_len ? checks_len : 1) * sizeof *sorted);
    if (!sorted) out_of_memory();
    size_t n = 0;
    for (size_t k = 0; k < checks_cap; k++) if (checks[k]) sorted[n++] = checks[k];
    qsort(sorted, n, sizeof *sorted, by_fork);
    long long total = 0;
    buf_puts(&b, "{\"forks\": [");
    for (size_t k = 0; k < n; k++) {
        check_t *c = sorted[k];
        total += c->media;
        buf_puts(&b, k ? ", {\"fork\": " : "{\"fork\": ");
        buf_put(&b, c->fork, c->fork_len);
        buf_printf(&b, ", \"media\": %lld, \"messages\": %lld, \"started\": %s, \"gap\": ",
                   c->media, c->messages, c->started ? "true" : "false");
        if (c->gap) json_string(&b, c->gap, c->gap_len);
        else buf_puts(&b, "null");
        buf_putc(&b, '}');
    }
    buf_printf(&b, "], \"total_media\": %lld, \"accepted\": %lld, \"open_at_end\": %zu, "
               "\"errors\": [", total, accepted, open_conns);
    for (long long k = 0; k < error_count && k < ERRORS_KEPT; k++) {
        if (k) buf_puts(&b, ", ");
        json_string(&b, errors[k], strlen(errors[k]));
    }
    buf_printf(&b, "], \"error_count\": %lld, \"cpu_share\": ", error_count);
    double wall = clock_s(CLOCK_MONOTONIC) - media_wall;
    if (media_cpu >= 0 && wall > 0) repr_float(&b, (clock_s(CLOCK_PROCESS_CPUTIME_ID) - media_cpu) / wall);
    else buf_puts(&b, "null");
    buf_puts(&b, "}\n");
    fwrite(b.p, 1, b.len, stdout);
    fflush(stdout);
    free(sorted);
    buf_free(&b);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static void run(double drain_s, double max_s, int watch_stdin) {
    double deadline = clock_s(CLOCK_MONOTONIC) + max_s, stopping = -1;
    double last_setup = clock_s(CLOCK_MONOTONIC);
    struct epoll_event *events = NULL;
    size_t events_cap = 0;
    char line[64];
    size_t line_len = 0;
    int line_long = 0;  /* a non-space past line[]: not "stop" */
    while (clock_s(CLOCK_MONOTONIC) < deadline) {
        double started = clock_s(CLOCK_MONOTONIC);
        int setting_up = 0;
        size_t want = open_conns + 2;
        if (want > events_cap) {
            free(events);
            events_cap = want * 2;
            if (!(events = malloc(events_cap * sizeof *events))) out_of_memory();
        }
        int n = epoll_wait(ep, events, (int)(want < INT32_MAX ? want : INT32_MAX), 1000);
        for (int k = 0; k < n; k++) {
            int fd = events[k].data.fd;
            if (fd == listener) {
                accept_some();
                setting_up = 1;
            } else if (fd == STDIN_FILENO && watch_stdin) {
                char tmp[256];
                ssize_t r = read(STDIN_FILENO, tmp, sizeof tmp);
                int stop = r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN);
                for (ssize_t i = 0; i < r && !stop; i++) {
                    if (tmp[i] != '\n') {
                        if (line_len < sizeof line) line[line_len++] = tmp[i];
                        else line_long |= !is_space((unsigned char)tmp[i]);
                        continue;
                    }
                    /* line.strip() == "stop" */
                    size_t a = 0, z = line_len;
                    while (a < z && is_space((unsigned char)line[a])) a++;
                    while (z > a && is_space((unsigned char)line[z - 1])) z--;
                    stop = !line_long && z - a == 4 && memcmp(line + a, "stop", 4) == 0;
                    line_len = 0, line_long = 0;
                }
                if (stop) {
                    stopping = clock_s(CLOCK_MONOTONIC);
                    epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
                    watch_stdin = 0;
                }
            } else if ((size_t)fd < conns_cap && conns[fd]) {
                conn_t *c = conns[fd];
                setting_up |= c->state != OPEN;
                service(c);
            }
        }
        if (stopping >= 0 && (!open_conns || clock_s(CLOCK_MONOTONIC) > stopping + drain_s))
            break;
        double now = clock_s(CLOCK_MONOTONIC);
        if (setting_up) last_setup = now;
        double rest = batch_s - (now - started);
        if (rest > 0 && now - last_setup > SETUP_QUIET_S)  /* clients wait on handshakes */
            sleep_s(rest);
    }
    free(events);
}

/* ---- the command line (sink.py's argparse options) --------------------------------------- */

static const char *const USAGE =
    "usage: sink [-h] [--cert CERT] [--key KEY] [--core CORE] [--batch-ms BATCH_MS]\n"
    "            [--drain-s DRAIN_S] [--max-s MAX_S] [--nice NICE]\n";

static void usage_error(const char *fmt, const char *what) {
    fputs(USAGE, stderr);
    fputs("sink: error: ", stderr);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    exit(2);
}

static double number(const char *name, const char *text, int integer) {
    char *end;
    errno = 0;
    double v = integer ? (double)strtol(text, &end, 10) : strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v) || (integer && fabs(v) > INT32_MAX)) {
        fputs(USAGE, stderr);
        fprintf(stderr, "sink: error: argument %s: invalid %s value: '%s'\n", name,
                integer ? "int" : "float", text);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    static const char *const names[] = {"--cert", "--key", "--core", "--batch-ms", "--drain-s",
                                        "--max-s", "--nice"};
    const char *values[7] = {NULL, NULL, "1", "20", "20", "900", "0"};
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(USAGE, stdout); return 0; }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        int match = -1, matches = 0;
        for (int o = 0; o < 7 && len > 2 && !strncmp(arg, "--", 2); o++) {
            if (strlen(names[o]) == len && !strncmp(names[o], arg, len)) { match = o, matches = 1; break; }
            if (!strncmp(names[o], arg, len)) match = o, matches++;  /* argparse: a prefix */
        }
        if (matches != 1) usage_error(matches ? "ambiguous option: %s" : "unrecognized arguments: %s", arg);
        if (eq) values[match] = eq + 1;
        else if (k + 1 < argc) values[match] = argv[++k];
        else usage_error("argument %s: expected one argument", names[match]);
    }
    int core = (int)number("--core", values[2], 1), nice_value = (int)number("--nice", values[6], 1);
    batch_s = number("--batch-ms", values[3], 0) / 1e3;
    double drain_s = number("--drain-s", values[4], 0), max_s = number("--max-s", values[5], 0);

    /* limits.py: raise_nofile, pin, renice */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t target = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur) {
            rl.rlim_cur = target;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (core < 0) usage_error("argument --core: %s", "a core index is >= 0");
    if (core < sysconf(_SC_NPROCESSORS_ONLN)) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(core, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) {
            fprintf(stderr, "sink: cannot pin to core %d: %s\n", core, strerror(errno));
            return 1;
        }
    }
    if (nice_value) setpriority(PRIO_PROCESS, 0, nice_value);  /* refused quietly, as limits.py */
    signal(SIGPIPE, SIG_IGN);

    if (values[0]) {  /* ssl.SSLContext(PROTOCOL_TLS_SERVER)'s settings in Python 3.11 */
        const char *key = values[1] ? values[1] : values[0];
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
            || !SSL_CTX_set_cipher_list(ctx, "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:"
                                             "DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM")
            || SSL_CTX_use_certificate_chain_file(ctx, values[0]) != 1
            || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1) {
            char text[256];
            ERR_error_string_n(ERR_peek_last_error(), text, sizeof text);
            fprintf(stderr, "sink: cannot load %s and %s: %s\n", values[0], key, text);
            return 1;
        }
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE
                                 | SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE);
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof addr;
    int one = 1;
    listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 4096) < 0
        || getsockname(listener, (struct sockaddr *)&addr, &addr_len) < 0
        || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("sink: listen");
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    ev.data.fd = STDIN_FILENO;
    /* a stdin epoll cannot watch (a file, /dev/null) gives no commands: --max-s ends the run */
    int watch_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;
    if (!(rbuf = malloc(READ_BYTES))) out_of_memory();

    printf("READY %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    run(drain_s, max_s, watch_stdin);
    report();
    _exit(0);  /* thousands of sockets: let the kernel close them */
}
