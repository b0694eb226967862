/*
 * lazyfs: a FUSE file system that loses power on demand (the approach of
 * Jepsen's LazyFS), for power-loss tests of volmand.
 *
 *   lazyfs BACKING_DIR MOUNTPOINT [--meta=strict|journal] [-f] [-d] [-o OPT,...]
 *
 * The backing directory always holds exactly the durable state: what a disk
 * would still hold after a power cut. Everything not yet made durable lives
 * in lazyfs's memory, and the mount shows the two together, the way a page
 * cache shows written data before it reaches the disk.
 *
 * What it models
 *
 * - Reads see everything written: pending data and namespace state on top of
 *   the backing directory.
 * - File data. write() (and writeback of shared mmaps, fallocate, and a
 *   truncate or O_TRUNC) changes an in-memory overlay of the file, in 4 KiB pages, and
 *   its live size. fsync() or fdatasync() of that file (any descriptor of its
 *   inode; hard links share one inode) writes the file's pending pages and
 *   size to the backing file. Nothing else ever writes file data to the
 *   backing: no background writeback, no other file's fsync.
 * - Namespace operations: create, mknod, mkdir, symlink, link, unlink,
 *   rmdir, rename (RENAME_NOREPLACE and RENAME_EXCHANGE too) take effect in
 *   the mount at once and are appended to an ordered log of pending
 *   operations. They reach the backing directory later, replayed in program
 *   order, according to the metadata model:
 *     --meta=journal  (ext4/XFS-like: one journal) any fsync, fdatasync or
 *                     directory fsync first makes every earlier namespace
 *                     operation of the whole file system durable, and every
 *                     pending attribute change. Other files' data stays
 *                     pending.
 *     --meta=strict   (the default: what POSIX promises, plus what every
 *                     Linux file system does for new inodes) an operation is
 *                     durable once its directory is fsynced (FUSE fsyncdir) -
 *                     for a rename, its destination directory (either one for
 *                     RENAME_EXCHANGE); the fsync or fdatasync of a file or
 *                     directory created since the last durable point also
 *                     makes the operation that created it durable, and with
 *                     it its new parent directories.
 *   An operation is never applied alone when it needs earlier ones: before
 *   it, lazyfs applies every earlier pending operation it depends on (one on
 *   the same directory entry; the creation of a directory it works in or of
 *   the inode it links; removals from a directory it removes or replaces;
 *   the links of an inode it takes a name from; every earlier rename of a
 *   directory, when it renames one). So the durable state is always the
 *   result of a dependency-closed subset of the operations, applied in
 *   program order: strict mode can make a little more durable than the bare
 *   rule says, never less than it promises.
 * - Attributes (chmod, chown, utimens) are lazy as well: strict mode makes an
 *   inode's attributes durable at its fsync or directory fsync (not at
 *   fdatasync) and when the operation that creates it is applied (a new inode
 *   reaches the backing with its current mode and owner); journal mode at any
 *   sync. ctime and atime updates by reads are not modelled.
 * - The control file MOUNTPOINT/.lazyfs-ctl (not listed, mode 0200, only
 *   root may open it, and only to write): writing "crash" drops every pending
 *   data page and namespace operation, so the backing directory holds exactly
 *   what was made durable, and the mount shows the backing directory from
 *   then on (every inode known before is stale: open descriptors fail with
 *   ESTALE, path lookups find the new state). Writing "sync" makes everything
 *   durable, like a clean shutdown; so does a clean unmount.
 * - SIGUSR1 writes the counters to stderr: fsyncs, fdatasyncs, directory
 *   fsyncs, pending data bytes (dirty pages x 4096) and namespace operations,
 *   and what the last crash dropped.
 *
 * What it does not model: a disk's own write cache reordering, torn or
 * partially written sectors, a journal's real commit points (ext4 also
 * commits every few seconds; here nothing becomes durable without a sync),
 * ext4's auto_da_alloc flush on rename-over-a-file, fsync errors (every sync
 * succeeds unless the backing directory fails), or the loss of ctime/atime.
 * A crash falls between two FUSE requests, never inside one.
 * Pending state is kept entirely in memory and is not bounded (the tests are
 * small); every inode lazyfs has seen keeps a descriptor of its backing inode
 * open while it is known. Extended attributes are refused (EOPNOTSUPP);
 * flock and POSIX locks are handled by the kernel on this mount (enough for
 * one host); statfs is the backing file system's. The file system runs on
 * one thread: requests are served one at a time.
 *
 * Kernel caches: every entry and attribute is given with a zero timeout, so
 * the kernel asks again on each path walk (a crash then shows at once); file
 * pages stay in the kernel's page cache between opens (all writes reach it
 * through this mount, so it cannot go stale) and shared mmaps work through it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define FUSE_USE_VERSION 34

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PG 4096u
#define CTL_NAME ".lazyfs-ctl"
#define CTL_NUMBER ((uint64_t)1 << 62)

enum meta_model { META_STRICT, META_JOURNAL };

/* ---- counters (read by the SIGUSR1 handler, hence atomic) ---- */

static _Atomic uint64_t n_fsyncs, n_fdatasyncs, n_fsyncdirs, n_pending_bytes, n_pending_ops,
    n_dropped_bytes, n_dropped_ops, n_applied_ops, n_crashes, n_errors;

static void count_add(_Atomic uint64_t *c, int64_t d)
{
        atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

/* ---- a file's pending pages: page index -> 4 KiB, open addressing ---- */

struct page_map {
        uint64_t *keys; /* page index + 1; 0 marks a free slot */
        char **pages;
        size_t cap, count; /* cap is 0 or a power of two */
};

static size_t page_hash(uint64_t idx, size_t cap)
{
        uint64_t h = idx * UINT64_C(0x9E3779B97F4A7C15);
        return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static char *page_get(const struct page_map *m, uint64_t idx)
{
        if (!m->cap)
                return NULL;
        for (size_t i = page_hash(idx, m->cap);; i = (i + 1) & (m->cap - 1)) {
                if (!m->keys[i])
                        return NULL;
                if (m->keys[i] == idx + 1)
                        return m->pages[i];
        }
}

static void page_insert_slot(struct page_map *m, uint64_t idx, char *page)
{
        size_t i = page_hash(idx, m->cap);
        while (m->keys[i])
                i = (i + 1) & (m->cap - 1);
        m->keys[i] = idx + 1;
        m->pages[i] = page;
        m->count++;
}

/* Adds a page the map does not hold (the map owns it from then on). */
static int page_put(struct page_map *m, uint64_t idx, char *page)
{
        if ((m->count + 1) * 4 > m->cap * 3) {
                size_t cap = m->cap ? m->cap * 2 : 16;
                uint64_t *keys = calloc(cap, sizeof(*keys));
                char **pages = calloc(cap, sizeof(*pages));
                if (!keys || !pages) {
                        free(keys);
                        free(pages);
                        return -ENOMEM;
                }
                struct page_map bigger = {keys, pages, cap, 0};
                for (size_t i = 0; i < m->cap; i++)
                        if (m->keys[i])
                                page_insert_slot(&bigger, m->keys[i] - 1, m->pages[i]);
                free(m->keys);
                free(m->pages);
                *m = bigger;
        }
        page_insert_slot(m, idx, page);
        count_add(&n_pending_bytes, PG);
        return 0;
}

/* Frees every page. */
static void page_map_clear(struct page_map *m)
{
        for (size_t i = 0; i < m->cap; i++) {
                if (m->keys[i]) {
                        free(m->pages[i]);
                        count_add(&n_pending_bytes, -(int64_t)PG);
                }
        }
        free(m->keys);
        free(m->pages);
        *m = (struct page_map){0};
}

/* Frees the pages from index first on. Allocates the new table before it
 * frees anything, so that a failure (-ENOMEM) changes nothing. */
static int page_map_truncate(struct page_map *m, uint64_t first)
{
        if (first == 0) {
                page_map_clear(m);
                return 0;
        }
        if (!m->cap)
                return 0;
        struct page_map kept = {calloc(m->cap, sizeof(uint64_t)), calloc(m->cap, sizeof(char *)),
                                m->cap, 0};
        if (!kept.keys || !kept.pages) {
                free(kept.keys);
                free(kept.pages);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++) {
                if (!m->keys[i])
                        continue;
                if (m->keys[i] - 1 >= first) {
                        free(m->pages[i]);
                        count_add(&n_pending_bytes, -(int64_t)PG);
                } else {
                        page_insert_slot(&kept, m->keys[i] - 1, m->pages[i]);
                }
        }
        free(m->keys);
        free(m->pages);
        *m = kept;
        return 0;
}

/* ---- inodes and the pending operation log ---- */

struct node;

struct entry {
        char *name;
        struct node *node;
};

struct node {
        struct node *prev_all, *next_all; /* every node, for crash and sync */
        uint64_t nlookup;                 /* the kernel's references */
        unsigned int opens;               /* open files and directories */
        unsigned int links;               /* entries naming it in loaded directories */
        unsigned int op_refs;             /* pending operations naming it */
        bool stale;                       /* known before the last crash */
        bool loaded;                      /* directory: children read from the backing */
        bool attr_dirty, times_dirty;     /* mode/owner, times not yet in the backing */
        struct stat st;                   /* live attributes; st_ino is lazyfs's own */
        /* The backing inode (O_RDWR for files, O_RDONLY for directories,
         * O_PATH otherwise), or -1 while the operation creating it is pending. */
        int fd;
        dev_t bdev;
        ino_t bino;
        struct op *birth;    /* the pending operation creating it */
        struct node *parent; /* directory: where it is linked (NULL once removed) */
        struct entry *kids;
        size_t n_kids, cap_kids;
        char *target; /* symlink */
        /* regular file: pending pages over the backing file, whose first
         * `floor` bytes are still visible where no page covers them */
        struct page_map pages;
        off_t floor, durable_size;
};

enum op_kind { OP_CREATE, OP_LINK, OP_UNLINK, OP_RENAME };

static const char *const op_names[] = {"create", "link", "unlink", "rename"};

struct op {
        struct op *prev, *next;
        enum op_kind kind;
        struct node *node; /* created, linked, removed or moved */
        struct node *dir;  /* the entry (dir, name) */
        char *name;
        struct node *dir2; /* rename: destination entry */
        char *name2;
        struct node *victim; /* rename: what the destination held */
        unsigned int flags;  /* rename flags */
        bool needed;         /* chosen by the current commit */
};

static struct {
        enum meta_model meta;
        int backing_fd; /* the backing directory */
        struct node *root;
        struct node *all;
        struct op *ops_head, *ops_tail;
        uint64_t next_number;
} fs = {.backing_fd = -1, .next_number = 1};

static struct node ctl_node;

static void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void log_msg(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("lazyfs: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

static struct timespec now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return ts;
}

static bool is_reg(const struct node *n)
{
        return S_ISREG(n->st.st_mode);
}

static bool is_dir(const struct node *n)
{
        return S_ISDIR(n->st.st_mode);
}

static struct node *node_new(mode_t mode)
{
        struct node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->fd = -1;
        n->st.st_mode = mode;
        n->st.st_ino = fs.next_number++;
        n->st.st_nlink = 1;
        n->st.st_blksize = PG;
        n->next_all = fs.all;
        if (fs.all)
                fs.all->prev_all = n;
        fs.all = n;
        return n;
}

static void node_free(struct node *n)
{
        if (n->prev_all)
                n->prev_all->next_all = n->next_all;
        else
                fs.all = n->next_all;
        if (n->next_all)
                n->next_all->prev_all = n->prev_all;
        if (n->fd >= 0)
                close(n->fd);
        for (size_t i = 0; i < n->n_kids; i++)
                free(n->kids[i].name);
        free(n->kids);
        free(n->target);
        page_map_clear(&n->pages);
        free(n);
}

/* True when the node holds state the backing does not have. */
static bool node_dirty(const struct node *n)
{
        return n->birth || n->attr_dirty || n->times_dirty || n->pages.count ||
               (is_reg(n) && (n->st.st_size != n->durable_size || n->floor != n->durable_size));
}

/* Frees n once nothing refers to it: not the kernel, not an open file, not
 * a loaded directory, not a pending operation. A node still linked from a
 * directory lazyfs has not loaded (a hard link) is kept while it is dirty. */
static void node_maybe_free(struct node *n)
{
        if (!n || n == fs.root || n == &ctl_node)
                return;
        if (n->nlookup || n->opens || n->links || n->op_refs)
                return;
        if (!n->stale && n->st.st_nlink > 0 && node_dirty(n))
                return;
        node_free(n);
}

static fuse_ino_t node_id(const struct node *n)
{
        return n == fs.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static struct node *id_node(fuse_ino_t ino)
{
        return ino == FUSE_ROOT_ID ? fs.root : (struct node *)(uintptr_t)ino;
}

/* ---- directories ---- */

static ssize_t dir_find(const struct node *d, const char *name)
{
        for (size_t i = 0; i < d->n_kids; i++)
                if (!strcmp(d->kids[i].name, name))
                        return (ssize_t)i;
        return -1;
}

static int dir_add(struct node *d, const char *name, struct node *n)
{
        if (d->n_kids == d->cap_kids) {
                size_t cap = d->cap_kids ? d->cap_kids * 2 : 8;
                struct entry *k = realloc(d->kids, cap * sizeof(*k));
                if (!k)
                        return -ENOMEM;
                d->kids = k;
                d->cap_kids = cap;
        }
        struct entry *e = &d->kids[d->n_kids];
        e->name = strdup(name);
        if (!e->name)
                return -ENOMEM;
        e->node = n;
        d->n_kids++;
        n->links++;
        if (is_dir(n))
                n->parent = d;
        return 0;
}

/* Removes entry i; the node it named loses a link (the caller frees it). */
static void dir_del(struct node *d, size_t i)
{
        free(d->kids[i].name);
        d->kids[i].node->links--;
        memmove(&d->kids[i], &d->kids[i + 1], (d->n_kids - i - 1) * sizeof(d->kids[0]));
        d->n_kids--;
}

static struct node *find_by_backing(dev_t dev, ino_t ino)
{
        for (struct node *n = fs.all; n; n = n->next_all)
                if (!n->stale && n->fd >= 0 && !is_dir(n) && n->bdev == dev && n->bino == ino)
                        return n;
        return NULL;
}

/* Makes a node for the backing inode `name` in directory dfd. */
static int node_from_backing(int dfd, const char *name, const struct stat *st, struct node **ret)
{
        int fd;
        if (S_ISREG(st->st_mode)) {
                fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && (errno == ETXTBSY || errno == EROFS || errno == EACCES))
                        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else if (S_ISDIR(st->st_mode)) {
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else {
                fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        char *target = NULL;
        if (S_ISLNK(st->st_mode)) {
                size_t size = (size_t)st->st_size + 1;
                target = malloc(size);
                ssize_t len = target ? readlinkat(dfd, name, target, size) : -1;
                if (len < 0 || (size_t)len >= size) {
                        int e = target ? (len < 0 ? errno : EIO) : ENOMEM;
                        free(target);
                        close(fd);
                        return -e;
                }
                target[len] = '\0';
        }
        struct node *n = node_new(st->st_mode);
        if (!n) {
                free(target);
                close(fd);
                return -ENOMEM;
        }
        ino_t number = n->st.st_ino;
        n->st = *st;
        n->st.st_ino = number;
        n->st.st_dev = 0;
        n->st.st_blksize = PG;
        n->fd = fd;
        n->bdev = st->st_dev;
        n->bino = st->st_ino;
        n->target = target;
        if (S_ISREG(st->st_mode))
                n->floor = n->durable_size = st->st_size;
        *ret = n;
        return 0;
}

/* Reads directory d's entries from the backing, once. Until then the
 * backing directory is what the mount shows, since every change to a
 * directory goes through a loaded one. */
static int dir_load(struct node *d)
{
        if (d->loaded)
                return 0;
        if (d->fd < 0)
                return -EIO;
        int dfd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        DIR *dir = fdopendir(dfd);
        if (!dir) {
                int e = errno;
                close(dfd);
                return -e;
        }
        int r = 0;
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(dir);
                if (!de) {
                        r = -errno;
                        break;
                }
                const char *name = de->d_name;
                if (!strcmp(name, ".") || !strcmp(name, "..") ||
                    (d == fs.root && !strcmp(name, CTL_NAME)))
                        continue;
                struct stat st;
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        break;
                }
                struct node *n = NULL;
                if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
                        n = find_by_backing(st.st_dev, st.st_ino);
                if (!n) {
                        r = node_from_backing(dfd, name, &st, &n);
                        if (r < 0 || !n) {
                                r = r < 0 ? r : -EIO;
                                break;
                        }
                }
                if ((r = dir_add(d, name, n)) < 0) {
                        node_maybe_free(n);
                        break;
                }
        }
        closedir(dir);
        if (r < 0) {
                while (d->n_kids) {
                        struct node *n = d->kids[d->n_kids - 1].node;
                        dir_del(d, d->n_kids - 1);
                        node_maybe_free(n);
                }
                return r;
        }
        d->loaded = true;
        return 0;
}

static bool is_ancestor(const struct node *a, const struct node *d)
{
        for (; d; d = d->parent)
                if (d == a)
                        return true;
        return false;
}

/* ---- the pending operation log ---- */

static struct op *op_append(enum op_kind kind, struct node *node, struct node *dir,
                            const char *name, struct node *dir2, const char *name2,
                            struct node *victim, unsigned int flags)
{
        struct op *o = calloc(1, sizeof(*o));
        if (!o)
                return NULL;
        o->name = strdup(name);
        o->name2 = name2 ? strdup(name2) : NULL;
        if (!o->name || (name2 && !o->name2)) {
                free(o->name);
                free(o->name2);
                free(o);
                return NULL;
        }
        o->kind = kind;
        o->node = node;
        o->dir = dir;
        o->dir2 = dir2;
        o->victim = victim;
        o->flags = flags;
        struct node *refs[] = {node, dir, dir2, victim};
        for (size_t i = 0; i < 4; i++)
                if (refs[i])
                        refs[i]->op_refs++;
        o->prev = fs.ops_tail;
        if (fs.ops_tail)
                fs.ops_tail->next = o;
        else
                fs.ops_head = o;
        fs.ops_tail = o;
        count_add(&n_pending_ops, 1);
        return o;
}

/* Removes o from the log (applied, or taken back) and drops its references. */
static void op_free(struct op *o)
{
        if (o->prev)
                o->prev->next = o->next;
        else
                fs.ops_head = o->next;
        if (o->next)
                o->next->prev = o->prev;
        else
                fs.ops_tail = o->prev;
        if (o->node->birth == o)
                o->node->birth = NULL;
        struct node *refs[] = {o->node, o->dir, o->dir2, o->victim};
        for (size_t i = 0; i < 4; i++) {
                if (refs[i]) {
                        refs[i]->op_refs--;
                        node_maybe_free(refs[i]);
                }
        }
        free(o->name);
        free(o->name2);
        free(o);
        count_add(&n_pending_ops, -1);
}

static bool same_entry(const struct node *d1, const char *n1, const struct node *d2, const char *n2)
{
        return d1 && d2 && d1 == d2 && !strcmp(n1, n2);
}

static bool ops_share_entry(const struct op *a, const struct op *b)
{
        return same_entry(a->dir, a->name, b->dir, b->name) ||
               same_entry(a->dir, a->name, b->dir2, b->name2) ||
               same_entry(a->dir2, a->name2, b->dir, b->name) ||
               same_entry(a->dir2, a->name2, b->dir2, b->name2);
}

/* The directory whose backing must be empty before o runs. */
static struct node *op_emptied_dir(const struct op *o)
{
        if (o->kind == OP_UNLINK && is_dir(o->node))
                return o->node;
        if (o->kind == OP_RENAME && !(o->flags & RENAME_EXCHANGE) && o->victim && is_dir(o->victim))
                return o->victim;
        return NULL;
}

/* The inode that loses a name when o runs (not a directory: those have one). */
static struct node *op_unlinked(const struct op *o)
{
        if (o->kind == OP_UNLINK && !is_dir(o->node))
                return o->node;
        if (o->kind == OP_RENAME && !(o->flags & RENAME_EXCHANGE) && o->victim &&
            !is_dir(o->victim))
                return o->victim;
        return NULL;
}

static bool op_moves_dir(const struct op *o)
{
        return o->kind == OP_RENAME && (is_dir(o->node) || ((o->flags & RENAME_EXCHANGE) &&
                                                            o->victim && is_dir(o->victim)));
}

/* Whether op b cannot be applied to the backing before the earlier op a. */
static bool op_depends(const struct op *b, const struct op *a)
{
        if (ops_share_entry(a, b))
                return true;
        if (a->kind == OP_CREATE &&
            (a->node == b->dir || a->node == b->dir2 || (b->kind == OP_LINK && a->node == b->node)))
                return true;
        const struct node *e = op_emptied_dir(b);
        if (e && (a->dir == e || a->dir2 == e))
                return true;
        /* An inode's new names come before the removal of an old one: else
         * the backing could drop its last name while a link to it pends. */
        const struct node *gone = op_unlinked(b);
        if (gone && a->kind == OP_LINK && a->node == gone)
                return true;
        /* Directory renames keep their order: another order could ask the
         * backing to move a directory below itself. */
        return op_moves_dir(b) && op_moves_dir(a);
}

static int node_commit_attrs(struct node *n);

static int proc_path(char buf[static 32], int fd)
{
        return snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* Creates n's inode in the backing directory pfd under name. */
static int create_backing(struct node *n, int pfd, const char *name)
{
        mode_t type = n->st.st_mode & S_IFMT;
        int fd = -1;
        switch (type) {
        case S_IFREG:
                fd = openat(pfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                break;
        case S_IFDIR:
                if (mkdirat(pfd, name, 0700) == 0)
                        fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                break;
        case S_IFLNK:
                if (symlinkat(n->target, pfd, name) == 0)
                        fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                break;
        default:
                if (mknodat(pfd, name, type | 0600, n->st.st_rdev) == 0)
                        fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                break;
        }
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        n->fd = fd;
        n->bdev = st.st_dev;
        n->bino = st.st_ino;
        n->durable_size = 0; /* floor is 0 since the node was made */
        n->attr_dirty = true;
        return node_commit_attrs(n);
}

static int op_apply(struct op *o)
{
        int r = 0;
        if (o->dir->fd < 0 || (o->kind == OP_RENAME && (!o->dir2 || o->dir2->fd < 0)) ||
            (o->kind == OP_LINK && o->node->fd < 0)) {
                r = -EIO; /* a dependency missed: a bug */
        } else {
                switch (o->kind) {
                case OP_CREATE:
                        r = create_backing(o->node, o->dir->fd, o->name);
                        break;
                case OP_LINK:
                        if (linkat(o->node->fd, "", o->dir->fd, o->name, AT_EMPTY_PATH) < 0)
                                r = -errno;
                        break;
                case OP_UNLINK:
                        if (unlinkat(o->dir->fd, o->name, is_dir(o->node) ? AT_REMOVEDIR : 0) < 0)
                                r = -errno;
                        break;
                case OP_RENAME:
                        if (renameat2(o->dir->fd, o->name, o->dir2->fd, o->name2, o->flags) < 0)
                                r = -errno;
                        break;
                }
        }
        if (r < 0) {
                count_add(&n_errors, 1);
                log_msg("applying %s of %s%s%s to the backing directory failed: %s",
                        op_names[o->kind], o->name, o->name2 ? " to " : "",
                        o->name2 ? o->name2 : "", strerror(-r));
                return r;
        }
        count_add(&n_applied_ops, 1);
        return 0;
}

/* Applies the operations marked needed and every earlier one they depend
 * on, in program order. On failure the failed operation and those after it
 * stay pending. */
static int ops_commit_needed(void)
{
        /* Newest first, so that the needed set after a is final when a is
         * looked at; `later` holds it. */
        size_t n = 0, cap = 0;
        struct op **later = NULL;
        int r = 0;
        for (struct op *a = fs.ops_tail; a; a = a->prev) {
                if (!a->needed) {
                        for (size_t i = 0; i < n; i++) {
                                if (op_depends(later[i], a)) {
                                        a->needed = true;
                                        break;
                                }
                        }
                }
                if (!a->needed)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        struct op **l = realloc(later, cap * sizeof(*l));
                        if (!l) {
                                r = -ENOMEM;
                                break;
                        }
                        later = l;
                }
                later[n++] = a;
        }
        free(later);
        for (struct op *o = fs.ops_head, *next; o; o = next) {
                next = o->next;
                if (!o->needed)
                        continue;
                o->needed = false;
                if (r == 0)
                        r = op_apply(o);
                if (r == 0)
                        op_free(o);
        }
        return r;
}

/* ---- file data ---- */

/* What the file shows where no pending page covers it: the backing file's
 * first `floor` bytes, zeros after them. */
static int base_read(struct node *n, char *buf, size_t len, off_t off)
{
        memset(buf, 0, len);
        if (n->fd < 0 || off >= n->floor)
                return 0;
        size_t want = (size_t)(n->floor - off) < len ? (size_t)(n->floor - off) : len;
        size_t done = 0;
        while (done < want) {
                ssize_t k = pread(n->fd, buf + done, want - done, off + (off_t)done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break; /* the rest reads as zeros */
                done += (size_t)k;
        }
        return 0;
}

static int file_read(struct node *n, char *buf, size_t len, off_t off)
{
        size_t done = 0;
        while (done < len) {
                off_t pos = off + (off_t)done;
                uint64_t idx = (uint64_t)pos / PG;
                size_t in = (size_t)((uint64_t)pos % PG);
                size_t chunk = PG - in < len - done ? PG - in : len - done;
                const char *p = page_get(&n->pages, idx);
                if (p) {
                        memcpy(buf + done, p + in, chunk);
                } else {
                        int r = base_read(n, buf + done, chunk, pos);
                        if (r < 0)
                                return r;
                }
                done += chunk;
        }
        return 0;
}

static int file_write(struct node *n, const char *buf, size_t len, off_t off)
{
        if (off < 0 || (off_t)len > INT64_MAX - off)
                return -EFBIG;
        size_t done = 0;
        while (done < len) {
                off_t pos = off + (off_t)done;
                uint64_t idx = (uint64_t)pos / PG;
                size_t in = (size_t)((uint64_t)pos % PG);
                size_t chunk = PG - in < len - done ? PG - in : len - done;
                char *p = page_get(&n->pages, idx);
                if (!p) {
                        p = malloc(PG);
                        if (!p)
                                return -ENOMEM;
                        int r = base_read(n, p, PG, (off_t)(idx * PG));
                        if (r == 0)
                                r = page_put(&n->pages, idx, p);
                        if (r < 0) {
                                free(p);
                                return r;
                        }
                }
                memcpy(p + in, buf + done, chunk);
                done += chunk;
        }
        if (off + (off_t)len > n->st.st_size)
                n->st.st_size = off + (off_t)len;
        return 0;
}

static int file_truncate(struct node *n, off_t size)
{
        if (size < n->st.st_size) {
                int r = page_map_truncate(&n->pages, ((uint64_t)size + PG - 1) / PG);
                if (r < 0)
                        return r;
                char *p = (size % PG) ? page_get(&n->pages, (uint64_t)size / PG) : NULL;
                if (p)
                        memset(p + size % PG, 0, PG - size % PG);
                if (size < n->floor)
                        n->floor = size;
        }
        n->st.st_size = size;
        return 0;
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
        size_t done = 0;
        while (done < len) {
                ssize_t k = pwrite(fd, buf + done, len - done, off + (off_t)done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)k;
        }
        return 0;
}

/* Writes n's pending pages and size to its backing file. */
static int node_commit_data(struct node *n)
{
        if (!is_reg(n) || n->fd < 0)
                return 0;
        int r = 0;
        if (n->floor < n->durable_size && ftruncate(n->fd, n->floor) < 0)
                r = -errno;
        for (size_t i = 0; r == 0 && i < n->pages.cap; i++) {
                if (!n->pages.keys[i])
                        continue;
                off_t pos = (off_t)((n->pages.keys[i] - 1) * PG);
                if (pos >= n->st.st_size)
                        continue;
                size_t len = n->st.st_size - pos < (off_t)PG ? (size_t)(n->st.st_size - pos) : PG;
                r = pwrite_all(n->fd, n->pages.pages[i], len, pos);
        }
        if (r == 0 && ftruncate(n->fd, n->st.st_size) < 0)
                r = -errno;
        if (r < 0) {
                count_add(&n_errors, 1);
                log_msg("writing pending data to the backing file failed: %s", strerror(-r));
                return r;
        }
        page_map_clear(&n->pages);
        n->floor = n->durable_size = n->st.st_size;
        return 0;
}

/* Gives n's backing inode its live mode, owner and (if set) times. */
static int node_commit_attrs(struct node *n)
{
        if (n->fd < 0 || n->stale)
                return 0;
        char proc[32];
        proc_path(proc, n->fd);
        bool by_fd = is_reg(n) || is_dir(n);
        int r = 0;
        if (n->attr_dirty) {
                /* owner first: chown clears set-id bits */
                if (fchownat(n->fd, "", n->st.st_uid, n->st.st_gid,
                             AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else if (by_fd && fchmod(n->fd, n->st.st_mode & 07777) < 0)
                        r = -errno;
                else if (!by_fd && !S_ISLNK(n->st.st_mode) &&
                         chmod(proc, n->st.st_mode & 07777) < 0)
                        r = -errno;
                if (r == 0)
                        n->attr_dirty = false;
        }
        if (r == 0 && n->times_dirty) {
                struct timespec ts[2] = {n->st.st_atim, n->st.st_mtim};
                if (by_fd && futimens(n->fd, ts) < 0)
                        r = -errno;
                else if (!by_fd && !S_ISLNK(n->st.st_mode) && utimensat(AT_FDCWD, proc, ts, 0) < 0)
                        r = -errno;
                if (r == 0)
                        n->times_dirty = false;
        }
        if (r < 0) {
                count_add(&n_errors, 1);
                log_msg("applying attributes to a backing inode failed: %s", strerror(-r));
        }
        return r;
}

/* ---- durability points ---- */

static bool op_durable_by_dir(const struct op *o, const struct node *d)
{
        if (o->kind == OP_RENAME)
                return o->dir2 == d || ((o->flags & RENAME_EXCHANGE) && o->dir == d);
        return o->dir == d;
}

static int commit_all_attrs(void)
{
        int r = 0;
        for (struct node *n = fs.all; n; n = n->next_all) {
                int k = node_commit_attrs(n);
                if (r == 0)
                        r = k;
        }
        return r;
}

/* fsync (datasync false), fdatasync, or a directory fsync of n. */
static int sync_node(struct node *n, bool datasync)
{
        if (fs.meta == META_JOURNAL) {
                for (struct op *o = fs.ops_head; o; o = o->next)
                        o->needed = true;
        } else {
                if (n->birth)
                        n->birth->needed = true;
                if (is_dir(n))
                        for (struct op *o = fs.ops_head; o; o = o->next)
                                if (op_durable_by_dir(o, n))
                                        o->needed = true;
        }
        int r = ops_commit_needed();
        if (r == 0 && n->fd < 0) {
                log_msg(
                    "a synced inode has no backing inode after its creation was applied: a bug");
                r = -EIO;
        }
        if (r == 0)
                r = node_commit_data(n);
        if (r == 0) {
                if (fs.meta == META_JOURNAL)
                        r = commit_all_attrs();
                else if (!datasync)
                        r = node_commit_attrs(n);
        }
        return r;
}

static int sync_all(void)
{
        for (struct op *o = fs.ops_head; o; o = o->next)
                o->needed = true;
        int r = ops_commit_needed();
        for (struct node *n = fs.all; n; n = n->next_all) {
                if (n->stale)
                        continue;
                int k = node_commit_data(n);
                if (k == 0)
                        k = node_commit_attrs(n);
                if (r == 0)
                        r = k;
        }
        return r;
}

static int root_new(struct node **ret)
{
        int fd = openat(fs.backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        struct node *n = node_new(st.st_mode);
        if (!n) {
                close(fd);
                return -ENOMEM;
        }
        ino_t number = n->st.st_ino;
        n->st = st;
        n->st.st_ino = number;
        n->st.st_dev = 0;
        n->fd = fd;
        n->bdev = st.st_dev;
        n->bino = st.st_ino;
        n->links = 1;
        *ret = n;
        return 0;
}

/* Power loss: drops everything pending. The backing directory is the state
 * from now on; every node known before is stale. */
static int crash(void)
{
        struct node *root = NULL;
        int r = root_new(&root);
        if (r < 0 || !root)
                return r < 0 ? r : -EIO;
        uint64_t ops = 0;
        uint64_t bytes = atomic_load_explicit(&n_pending_bytes, memory_order_relaxed);
        for (struct op *o = fs.ops_head, *next; o; o = next) {
                next = o->next;
                free(o->name);
                free(o->name2);
                free(o);
                ops++;
        }
        fs.ops_head = fs.ops_tail = NULL;
        atomic_store(&n_pending_ops, 0);
        for (struct node *n = fs.all; n; n = n->next_all) {
                if (n == root)
                        continue;
                n->stale = true;
                n->op_refs = 0;
                n->links = 0;
                n->birth = NULL;
                n->parent = NULL;
                for (size_t i = 0; i < n->n_kids; i++)
                        free(n->kids[i].name);
                free(n->kids);
                n->kids = NULL;
                n->n_kids = n->cap_kids = 0;
                page_map_clear(&n->pages);
                if (n->fd >= 0)
                        close(n->fd);
                n->fd = -1;
        }
        fs.root = root;
        for (struct node *n = fs.all, *next; n; n = next) {
                next = n->next_all;
                node_maybe_free(n);
        }
        atomic_store(&n_dropped_bytes, bytes);
        atomic_store(&n_dropped_ops, ops);
        count_add(&n_crashes, 1);
        log_msg(
            "crash: dropped %llu bytes of pending data (%llu pages) and %llu namespace operations",
            (unsigned long long)bytes, (unsigned long long)(bytes / PG), (unsigned long long)ops);
        return 0;
}

/* Frees every node and pending operation (at exit, after the last sync). */
static void free_all(void)
{
        for (struct op *o = fs.ops_head, *next; o; o = next) {
                next = o->next;
                free(o->name);
                free(o->name2);
                free(o);
        }
        fs.ops_head = fs.ops_tail = NULL;
        for (struct node *n = fs.all, *next; n; n = next) {
                next = n->next_all;
                node_free(n);
        }
        fs.root = NULL;
}

/* ---- SIGUSR1: counters to stderr, async-signal-safe ---- */

static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
        while (*s && pos + 1 < cap)
                buf[pos++] = *s++;
        return pos;
}

static size_t put_u64(char *buf, size_t pos, size_t cap, uint64_t v)
{
        char digits[24];
        size_t k = 0;
        do {
                digits[k++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        while (k && pos + 1 < cap)
                buf[pos++] = digits[--k];
        return pos;
}

static void on_sigusr1(int sig)
{
        (void)sig;
        int saved = errno;
        static const struct {
                const char *name;
                _Atomic uint64_t *value;
        } items[] = {
            {" fsyncs=", &n_fsyncs},           {" fdatasyncs=", &n_fdatasyncs},
            {" fsyncdirs=", &n_fsyncdirs},     {" pending_bytes=", &n_pending_bytes},
            {" pending_ops=", &n_pending_ops}, {" dropped_bytes=", &n_dropped_bytes},
            {" dropped_ops=", &n_dropped_ops}, {" applied_ops=", &n_applied_ops},
            {" crashes=", &n_crashes},         {" errors=", &n_errors},
        };
        char buf[512];
        size_t pos = put_str(buf, 0, sizeof(buf), "lazyfs: stats meta=");
        pos = put_str(buf, pos, sizeof(buf), fs.meta == META_JOURNAL ? "journal" : "strict");
        for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
                pos = put_str(buf, pos, sizeof(buf), items[i].name);
                pos = put_u64(buf, pos, sizeof(buf),
                              atomic_load_explicit(items[i].value, memory_order_relaxed));
        }
        buf[pos++] = '\n';
        ssize_t k = write(STDERR_FILENO, buf, pos);
        (void)k;
        errno = saved;
}

/* ---- FUSE operations ---- */

static const double NO_CACHE = 0.0;

static void fill_attr(const struct node *n, struct stat *st)
{
        *st = n->st;
        st->st_blocks = (n->st.st_size + 511) / 512;
}

static void reply_entry(fuse_req_t req, struct node *n)
{
        struct fuse_entry_param e = {
            .ino = node_id(n), .attr_timeout = NO_CACHE, .entry_timeout = NO_CACHE};
        fill_attr(n, &e.attr);
        if (fuse_reply_entry(req, &e) == 0)
                n->nlookup++;
}

static bool is_root_uid(fuse_req_t req)
{
        return fuse_req_ctx(req)->uid == 0;
}

/* The live, loaded directory ino, or a negative errno. */
static int get_dir(fuse_ino_t ino, struct node **ret)
{
        struct node *d = id_node(ino);
        if (d == &ctl_node)
                return -ENOTDIR;
        if (d->stale)
                return -ESTALE;
        if (!is_dir(d))
                return -ENOTDIR;
        if (d != fs.root && !d->links)
                return -ENOENT; /* removed */
        int r = dir_load(d);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
        (void)userdata;
        /* The page cache is coherent by construction (every write comes
         * through this mount); invalidating it on each mtime change would
         * only make shared mmaps (SQLite's -shm) churn. */
        conn->want &= ~(unsigned)(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE);
}

static void ll_destroy(void *userdata)
{
        (void)userdata;
        if (sync_all() < 0)
                log_msg("unmount: could not make everything durable");
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct node *d;
        int r = get_dir(parent, &d);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        if (d == fs.root && !strcmp(name, CTL_NAME)) {
                reply_entry(req, &ctl_node);
                return;
        }
        ssize_t i = dir_find(d, name);
        if (i < 0) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        reply_entry(req, d->kids[i].node);
}

static void forget_one(fuse_ino_t ino, uint64_t count)
{
        struct node *n = id_node(ino);
        if (ino == FUSE_ROOT_ID || n == &ctl_node)
                return;
        n->nlookup = count > n->nlookup ? 0 : n->nlookup - count;
        node_maybe_free(n);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
        forget_one(ino, nlookup);
        fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
        for (size_t i = 0; i < count; i++)
                forget_one(forgets[i].ino, forgets[i].nlookup);
        fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void)fi; /* a directory's is a dir_handle; the inode says all */
        struct node *n = id_node(ino);
        if (n->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        struct stat st;
        fill_attr(n, &st);
        fuse_reply_attr(req, &st, NO_CACHE);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
        (void)fi;
        struct node *n = id_node(ino);
        struct stat st;
        if (n == &ctl_node) {
                /* only the truncation of an open for writing ("> ctl") */
                if (!is_root_uid(req) ||
                    (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_MTIME |
                                FUSE_SET_ATTR_MTIME_NOW))) {
                        fuse_reply_err(req, EPERM);
                        return;
                }
                fill_attr(n, &st);
                fuse_reply_attr(req, &st, NO_CACHE);
                return;
        }
        if (n->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        if ((to_set & FUSE_SET_ATTR_SIZE) && !is_reg(n)) {
                fuse_reply_err(req, is_dir(n) ? EISDIR : EINVAL);
                return;
        }
        struct timespec t = now();
        if (to_set & FUSE_SET_ATTR_SIZE) {
                int r = file_truncate(n, attr->st_size);
                if (r < 0) {
                        fuse_reply_err(req, -r);
                        return;
                }
                n->st.st_mtim = t;
        }
        if (to_set & FUSE_SET_ATTR_MODE) {
                n->st.st_mode = (n->st.st_mode & S_IFMT) | (attr->st_mode & 07777);
                n->attr_dirty = true;
        }
        if (to_set & FUSE_SET_ATTR_UID) {
                n->st.st_uid = attr->st_uid;
                n->attr_dirty = true;
        }
        if (to_set & FUSE_SET_ATTR_GID) {
                n->st.st_gid = attr->st_gid;
                n->attr_dirty = true;
        }
        if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
                n->st.st_atim = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? t : attr->st_atim;
                n->times_dirty = true;
        }
        if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
                n->st.st_mtim = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? t : attr->st_mtim;
                n->times_dirty = true;
        }
        n->st.st_ctim = t;
        fill_attr(n, &st);
        fuse_reply_attr(req, &st, NO_CACHE);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
        struct node *n = id_node(ino);
        if (n->stale)
                fuse_reply_err(req, ESTALE);
        else if (!S_ISLNK(n->st.st_mode))
                fuse_reply_err(req, EINVAL);
        else
                fuse_reply_readlink(req, n->target);
}

/* Links a new inode of the given mode under (parent, name) and logs its
 * creation. */
static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
                     const char *target, struct node **ret)
{
        struct node *d;
        int r = get_dir(parent, &d);
        if (r < 0)
                return r;
        if (strlen(name) > NAME_MAX)
                return -ENAMETOOLONG;
        if ((d == fs.root && !strcmp(name, CTL_NAME)) || dir_find(d, name) >= 0)
                return -EEXIST;
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        struct node *n = node_new(mode);
        if (!n)
                return -ENOMEM;
        struct timespec t = now();
        n->st.st_uid = ctx->uid;
        n->st.st_gid = (d->st.st_mode & S_ISGID) ? d->st.st_gid : ctx->gid;
        if (S_ISDIR(mode) && (d->st.st_mode & S_ISGID))
                n->st.st_mode |= S_ISGID;
        n->st.st_rdev = rdev;
        n->st.st_atim = n->st.st_mtim = n->st.st_ctim = t;
        if (S_ISDIR(mode)) {
                n->st.st_nlink = 2;
                n->loaded = true;
        }
        if (target) {
                n->target = strdup(target);
                if (!n->target) {
                        node_free(n);
                        return -ENOMEM;
                }
                n->st.st_size = (off_t)strlen(target);
        }
        if (dir_add(d, name, n) < 0) {
                node_free(n);
                return -ENOMEM;
        }
        n->birth = op_append(OP_CREATE, n, d, name, NULL, NULL, NULL, 0);
        if (!n->birth) {
                dir_del(d, d->n_kids - 1);
                node_free(n);
                return -ENOMEM;
        }
        if (S_ISDIR(mode))
                d->st.st_nlink++;
        d->st.st_mtim = d->st.st_ctim = t;
        *ret = n;
        return 0;
}

static void reply_made(fuse_req_t req, int r, struct node *n)
{
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                reply_entry(req, n);
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
        struct node *n = NULL;
        int r = make_node(req, parent, name, mode, rdev, NULL, &n);
        reply_made(req, r, n);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
        struct node *n = NULL;
        int r = make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL, &n);
        reply_made(req, r, n);
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
        struct node *n = NULL;
        int r = make_node(req, parent, name, S_IFLNK | 0777, 0, link, &n);
        reply_made(req, r, n);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
        struct node *n = NULL;
        int r = make_node(req, parent, name, S_IFREG | (mode & 07777), 0, NULL, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        struct fuse_entry_param e = {
            .ino = node_id(n), .attr_timeout = NO_CACHE, .entry_timeout = NO_CACHE};
        fill_attr(n, &e.attr);
        fi->fh = (uintptr_t)n;
        fi->keep_cache = 1;
        n->opens++;
        n->nlookup++;
        if (fuse_reply_create(req, &e, fi) != 0) {
                n->opens--;
                n->nlookup--;
        }
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct node *d;
        int r = get_dir(parent, &d);
        if (r == 0 && d == fs.root && !strcmp(name, CTL_NAME))
                r = -EPERM;
        ssize_t i = r == 0 ? dir_find(d, name) : -1;
        if (r == 0 && i < 0)
                r = -ENOENT;
        struct node *n = r == 0 ? d->kids[i].node : NULL;
        if (r == 0 && is_dir(n))
                r = -EISDIR;
        if (r == 0 && !op_append(OP_UNLINK, n, d, name, NULL, NULL, NULL, 0))
                r = -ENOMEM;
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        struct timespec t = now();
        dir_del(d, (size_t)i);
        n->st.st_nlink--;
        n->st.st_ctim = t;
        d->st.st_mtim = d->st.st_ctim = t;
        fuse_reply_err(req, 0);
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct node *d;
        int r = get_dir(parent, &d);
        ssize_t i = r == 0 ? dir_find(d, name) : -1;
        if (r == 0 && i < 0)
                r = -ENOENT;
        struct node *n = r == 0 ? d->kids[i].node : NULL;
        if (r == 0 && !is_dir(n))
                r = -ENOTDIR;
        if (r == 0)
                r = dir_load(n);
        if (r == 0 && n->n_kids)
                r = -ENOTEMPTY;
        if (r == 0 && !op_append(OP_UNLINK, n, d, name, NULL, NULL, NULL, 0))
                r = -ENOMEM;
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        struct timespec t = now();
        dir_del(d, (size_t)i);
        n->parent = NULL;
        n->st.st_nlink = 0;
        n->st.st_ctim = t;
        d->st.st_nlink--;
        d->st.st_mtim = d->st.st_ctim = t;
        fuse_reply_err(req, 0);
}

/* Checks a rename as the kernel's file systems do; 0 when it may go on. */
static int rename_check(struct node *d1, const char *name, struct node *d2, const char *newname,
                        unsigned int flags, struct node *src, struct node *dst)
{
        if ((d1 == fs.root && !strcmp(name, CTL_NAME)) ||
            (d2 == fs.root && !strcmp(newname, CTL_NAME)))
                return -EPERM;
        if (flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE))
                return -EINVAL;
        if (strlen(newname) > NAME_MAX)
                return -ENAMETOOLONG;
        if (!src)
                return -ENOENT;
        if ((flags & RENAME_NOREPLACE) && dst)
                return -EEXIST;
        if ((flags & RENAME_EXCHANGE) && !dst)
                return -ENOENT;
        if (is_dir(src) && is_ancestor(src, d2))
                return -EINVAL;
        if ((flags & RENAME_EXCHANGE) && is_dir(dst) && is_ancestor(dst, d1))
                return -EINVAL;
        if (dst && !(flags & RENAME_EXCHANGE) && dst != src) {
                if (is_dir(src) && !is_dir(dst))
                        return -ENOTDIR;
                if (!is_dir(src) && is_dir(dst))
                        return -EISDIR;
                if (is_dir(dst)) {
                        int r = dir_load(dst);
                        if (r < 0)
                                return r;
                        if (dst->n_kids)
                                return -ENOTEMPTY;
                }
        }
        return 0;
}

static void set_entry(struct node *d, size_t i, struct node *n)
{
        d->kids[i].node->links--;
        d->kids[i].node = n;
        n->links++;
        if (is_dir(n))
                n->parent = d;
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
        struct node *d1, *d2;
        int r = get_dir(parent, &d1);
        if (r == 0)
                r = get_dir(newparent, &d2);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        ssize_t i1 = dir_find(d1, name), i2 = dir_find(d2, newname);
        if (i1 < 0) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        struct node *src = d1->kids[i1].node;
        struct node *dst = i2 >= 0 ? d2->kids[i2].node : NULL;
        r = rename_check(d1, name, d2, newname, flags, src, dst);
        if (r == 0 && dst == src) {
                fuse_reply_err(req, 0); /* two names of one inode: nothing happens */
                return;
        }
        if (r == 0 && !op_append(OP_RENAME, src, d1, name, d2, newname, dst, flags))
                r = -ENOMEM;
        if (r == 0 && !dst && (flags & RENAME_EXCHANGE) == 0 && dir_add(d2, newname, src) < 0) {
                op_free(fs.ops_tail);
                r = -ENOMEM;
        }
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        struct timespec t = now();
        if (flags & RENAME_EXCHANGE) {
                set_entry(d1, (size_t)i1, dst);
                set_entry(d2, (size_t)i2, src);
                if (d1 != d2 && is_dir(src) != is_dir(dst)) {
                        struct node *from = is_dir(src) ? d1 : d2, *to = is_dir(src) ? d2 : d1;
                        from->st.st_nlink--;
                        to->st.st_nlink++;
                }
                dst->st.st_ctim = t;
        } else {
                if (dst) {
                        set_entry(d2, (size_t)i2, src);
                        if (is_dir(dst)) {
                                dst->st.st_nlink = 0;
                                dst->parent = NULL;
                                d2->st.st_nlink--;
                        } else {
                                dst->st.st_nlink--;
                        }
                        dst->st.st_ctim = t;
                }
                /* entry i1 still names src: dir_add appended, set_entry replaced i2 != i1 */
                dir_del(d1, (size_t)i1);
                if (is_dir(src) && d1 != d2) {
                        d1->st.st_nlink--;
                        d2->st.st_nlink++;
                        src->parent = d2;
                }
                node_maybe_free(dst);
        }
        src->st.st_ctim = t;
        d1->st.st_mtim = d1->st.st_ctim = t;
        d2->st.st_mtim = d2->st.st_ctim = t;
        fuse_reply_err(req, 0);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
        struct node *n = id_node(ino), *d = NULL;
        int r = n == &ctl_node ? -EPERM : n->stale ? -ESTALE : is_dir(n) ? -EPERM : 0;
        if (r == 0)
                r = get_dir(newparent, &d);
        if (r == 0 && strlen(newname) > NAME_MAX)
                r = -ENAMETOOLONG;
        if (r == 0 && ((d == fs.root && !strcmp(newname, CTL_NAME)) || dir_find(d, newname) >= 0))
                r = -EEXIST;
        if (r == 0 && !op_append(OP_LINK, n, d, newname, NULL, NULL, NULL, 0))
                r = -ENOMEM;
        if (r == 0 && dir_add(d, newname, n) < 0) {
                op_free(fs.ops_tail);
                r = -ENOMEM;
        }
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        struct timespec t = now();
        n->st.st_nlink++;
        n->st.st_ctim = t;
        d->st.st_mtim = d->st.st_ctim = t;
        reply_entry(req, n);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node *n = id_node(ino);
        if (n == &ctl_node) {
                if (!is_root_uid(req) || (fi->flags & O_ACCMODE) != O_WRONLY) {
                        fuse_reply_err(req, EACCES);
                        return;
                }
                fi->fh = 0;
                fi->direct_io = 1;
                fuse_reply_open(req, fi);
                return;
        }
        if (n->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        if (!is_reg(n)) {
                fuse_reply_err(req, is_dir(n) ? EISDIR : EINVAL);
                return;
        }
        /* libfuse asks for atomic O_TRUNC: the truncation comes with the
         * open, not as a setattr of its own (the kernel checked access) */
        if (fi->flags & O_TRUNC) {
                int r = file_truncate(n, 0);
                if (r < 0) {
                        fuse_reply_err(req, -r);
                        return;
                }
                n->st.st_mtim = n->st.st_ctim = now();
        }
        fi->fh = (uintptr_t)n;
        fi->keep_cache = 1;
        n->opens++;
        if (fuse_reply_open(req, fi) != 0)
                n->opens--;
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void)ino;
        struct node *n = (struct node *)(uintptr_t)fi->fh;
        if (n) {
                n->opens--;
                node_maybe_free(n);
        }
        fuse_reply_err(req, 0);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void)ino;
        (void)fi;
        fuse_reply_err(req, 0);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
        (void)fi;
        struct node *n = id_node(ino);
        if (n == &ctl_node) {
                fuse_reply_err(req, EACCES);
                return;
        }
        if (n->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        if (off >= n->st.st_size || size == 0) {
                fuse_reply_buf(req, NULL, 0);
                return;
        }
        size_t len = (off_t)size < n->st.st_size - off ? size : (size_t)(n->st.st_size - off);
        char *buf = malloc(len);
        if (!buf) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        int r = file_read(n, buf, len, off);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_buf(req, buf, len);
        free(buf);
}

static int ctl_command(fuse_req_t req, const char *buf, size_t size)
{
        if (!is_root_uid(req))
                return -EACCES;
        while (size && (buf[size - 1] == '\n' || buf[size - 1] == ' ' || buf[size - 1] == '\0'))
                size--;
        if (size == 5 && !memcmp(buf, "crash", 5))
                return crash();
        if (size == 4 && !memcmp(buf, "sync", 4)) {
                int r = sync_all();
                log_msg("sync: everything is durable%s", r < 0 ? " (with errors)" : "");
                return r;
        }
        return -EINVAL;
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
        (void)fi;
        struct node *n = id_node(ino);
        int r;
        if (n == &ctl_node) {
                r = ctl_command(req, buf, size);
        } else if (n->stale) {
                r = -ESTALE;
        } else {
                r = file_write(n, buf, size, off);
                if (r == 0)
                        n->st.st_mtim = n->st.st_ctim = now();
        }
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_write(req, size);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
        (void)fi;
        struct node *n = id_node(ino);
        if (n == &ctl_node) {
                fuse_reply_err(req, 0);
                return;
        }
        if (n->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        count_add(datasync ? &n_fdatasyncs : &n_fsyncs, 1);
        fuse_reply_err(req, -sync_node(n, datasync != 0));
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi)
{
        (void)fi;
        struct node *n = id_node(ino);
        int r = 0;
        if (n == &ctl_node || !is_reg(n))
                r = -EINVAL;
        else if (n->stale)
                r = -ESTALE;
        else if (mode & ~FALLOC_FL_KEEP_SIZE)
                r = -EOPNOTSUPP;
        else if (offset < 0 || length <= 0 || length > INT64_MAX - offset)
                r = -EINVAL;
        else if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + length > n->st.st_size) {
                n->st.st_size = offset + length; /* the new bytes read as zeros */
                n->st.st_mtim = n->st.st_ctim = now();
        }
        fuse_reply_err(req, -r);
}

struct dir_handle {
        struct node *node;
        struct dir_item {
                char *name;
                struct stat st; /* st_ino and the type bits */
        } * items;
        size_t n;
};

static void dir_handle_clear(struct dir_handle *h)
{
        for (size_t i = 0; i < h->n; i++)
                free(h->items[i].name);
        free(h->items);
        h->items = NULL;
        h->n = 0;
}

/* Takes a copy of the directory's entries, "." and ".." first. */
static int dir_snapshot(struct dir_handle *h)
{
        struct node *d = h->node;
        dir_handle_clear(h);
        h->items = calloc(d->n_kids + 2, sizeof(*h->items));
        if (!h->items)
                return -ENOMEM;
        struct node *up = d->parent ? d->parent : d;
        const char *names[2] = {".", ".."};
        const struct node *nodes[2] = {d, up};
        for (size_t i = 0; i < d->n_kids + 2; i++) {
                const char *name = i < 2 ? names[i] : d->kids[i - 2].name;
                const struct node *n = i < 2 ? nodes[i] : d->kids[i - 2].node;
                h->items[i].name = strdup(name);
                if (!h->items[i].name) {
                        dir_handle_clear(h);
                        return -ENOMEM;
                }
                h->items[i].st.st_ino = n->st.st_ino;
                h->items[i].st.st_mode = n->st.st_mode & S_IFMT;
                h->n++;
        }
        return 0;
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node *d = id_node(ino);
        int r = d == &ctl_node ? -ENOTDIR
                : d->stale     ? -ESTALE
                : !is_dir(d)   ? -ENOTDIR
                               : dir_load(d);
        struct dir_handle *h = r == 0 ? calloc(1, sizeof(*h)) : NULL;
        if (!h) {
                fuse_reply_err(req, r < 0 ? -r : ENOMEM);
                return;
        }
        h->node = d;
        d->opens++;
        fi->fh = (uintptr_t)h;
        if (fuse_reply_open(req, fi) != 0) {
                d->opens--;
                free(h);
        }
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
        (void)ino;
        struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
        if (h->node->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        int r = (off == 0 || !h->items) ? dir_snapshot(h) : 0;
        char *buf = r == 0 ? malloc(size) : NULL;
        if (r == 0 && !buf)
                r = -ENOMEM;
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        size_t pos = 0;
        for (size_t i = off < 0 ? 0 : (size_t)off; i < h->n; i++) {
                size_t need = fuse_add_direntry(req, buf + pos, size - pos, h->items[i].name,
                                                &h->items[i].st, (off_t)(i + 1));
                if (need > size - pos)
                        break;
                pos += need;
        }
        fuse_reply_buf(req, buf, pos);
        free(buf);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void)ino;
        struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
        struct node *d = h->node;
        dir_handle_clear(h);
        free(h);
        d->opens--;
        node_maybe_free(d);
        fuse_reply_err(req, 0);
}

static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
        (void)fi;
        struct node *d = id_node(ino);
        if (d->stale) {
                fuse_reply_err(req, ESTALE);
                return;
        }
        count_add(&n_fsyncdirs, 1);
        fuse_reply_err(req, -sync_node(d, datasync != 0));
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
        (void)ino;
        struct statvfs sv;
        if (fstatvfs(fs.backing_fd, &sv) < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops lazyfs_ops = {
    .init = ll_init,
    .destroy = ll_destroy,
    .lookup = ll_lookup,
    .forget = ll_forget,
    .forget_multi = ll_forget_multi,
    .getattr = ll_getattr,
    .setattr = ll_setattr,
    .readlink = ll_readlink,
    .mknod = ll_mknod,
    .mkdir = ll_mkdir,
    .symlink = ll_symlink,
    .unlink = ll_unlink,
    .rmdir = ll_rmdir,
    .rename = ll_rename,
    .link = ll_link,
    .open = ll_open,
    .create = ll_create,
    .read = ll_read,
    .write = ll_write,
    .flush = ll_flush,
    .release = ll_release,
    .fsync = ll_fsync,
    .fallocate = ll_fallocate,
    .opendir = ll_opendir,
    .readdir = ll_readdir,
    .releasedir = ll_releasedir,
    .fsyncdir = ll_fsyncdir,
    .statfs = ll_statfs,
    /* no xattr operations: the kernel answers EOPNOTSUPP;
     * no flock/getlk/setlk: the kernel keeps locks itself */
};

/* ---- main ---- */

static void usage(FILE *f, const char *prog)
{
        fprintf(
            f,
            "usage: %s BACKING_DIR MOUNTPOINT [--meta=strict|journal] [-f] [-d] [-o OPT,...]\n"
            "  Mounts BACKING_DIR on MOUNTPOINT, keeping every write that was not made durable\n"
            "  in memory. Write \"crash\" to MOUNTPOINT/" CTL_NAME " to drop it all, \"sync\" to\n"
            "  make it durable; SIGUSR1 prints counters to stderr.\n"
            "  --meta=strict   a namespace operation is durable once its directory is fsynced\n"
            "                  (a new inode's own fsync makes its entry durable) [default]\n"
            "  --meta=journal  any fsync makes every earlier namespace operation durable\n",
            prog);
}

static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char *argv[])
{
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
                usage(stdout, argv[0]);
                return 0;
        }
        if (argc < 3) {
                usage(stderr, argv[0]);
                return 2;
        }
        /* argv[1] is the backing directory; the rest goes to libfuse, less --meta */
        struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
        if (fuse_opt_add_arg(&args, argv[0]) < 0)
                return 1;
        for (int i = 2; i < argc; i++) {
                if (!strncmp(argv[i], "--meta=", 7)) {
                        if (!strcmp(argv[i] + 7, "strict")) {
                                fs.meta = META_STRICT;
                        } else if (!strcmp(argv[i] + 7, "journal")) {
                                fs.meta = META_JOURNAL;
                        } else {
                                fprintf(stderr, "lazyfs: --meta must be strict or journal\n");
                                return 2;
                        }
                } else if (fuse_opt_add_arg(&args, argv[i]) < 0) {
                        return 1;
                }
        }
        const char *mount_opts =
            geteuid() == 0 ? "-odefault_permissions,allow_other,fsname=lazyfs,subtype=lazyfs"
                           : "-odefault_permissions,fsname=lazyfs,subtype=lazyfs";
        if (fuse_opt_add_arg(&args, mount_opts) < 0)
                return 1;
        struct fuse_cmdline_opts opts;
        if (fuse_parse_cmdline(&args, &opts) != 0) {
                usage(stderr, argv[0]);
                return 2;
        }
        if (opts.show_help || opts.show_version || !opts.mountpoint) {
                usage(opts.show_help ? stdout : stderr, argv[0]);
                free(opts.mountpoint);
                fuse_opt_free_args(&args);
                return opts.show_help ? 0 : 2;
        }
        int ret = 1;
        umask(0); /* the backing gets the modes the mount was asked for */
        raise_nofile();
        fs.backing_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fs.backing_fd < 0) {
                log_msg("opening the backing directory %s: %s", argv[1], strerror(errno));
                goto out;
        }
        int r = root_new(&fs.root);
        if (r < 0) {
                log_msg("reading the backing directory %s: %s", argv[1], strerror(-r));
                goto out;
        }
        struct timespec t = now();
        ctl_node.st = (struct stat){.st_ino = CTL_NUMBER,
                                    .st_mode = S_IFREG | 0200,
                                    .st_nlink = 1,
                                    .st_blksize = PG,
                                    .st_atim = t,
                                    .st_mtim = t,
                                    .st_ctim = t};
        ctl_node.fd = -1;

        struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);

        struct fuse_session *se = fuse_session_new(&args, &lazyfs_ops, sizeof(lazyfs_ops), NULL);
        if (!se)
                goto out;
        if (fuse_set_signal_handlers(se) == 0) {
                if (fuse_session_mount(se, opts.mountpoint) == 0) {
                        log_msg("%s on %s, meta=%s", argv[1], opts.mountpoint,
                                fs.meta == META_JOURNAL ? "journal" : "strict");
                        fuse_daemonize(opts.foreground);
                        /* one thread: the model has no locks */
                        ret = fuse_session_loop(se) != 0;
                        fuse_session_unmount(se);
                }
                fuse_remove_signal_handlers(se);
        }
        fuse_session_destroy(se);
out:
        free_all();
        if (fs.backing_fd >= 0)
                close(fs.backing_fd);
        free(opts.mountpoint);
        fuse_opt_free_args(&args);
        return ret;
}
