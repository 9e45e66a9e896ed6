/*
 * capsule checkpoint image, format v2: the public record definitions.
 *
 * This header is the plain-C description of the file (seed 004): any tool
 * may include it to read an image.  All integers are little-endian and
 * fixed-width, all records packed with explicit sizes (checked below);
 * strings are fixed-size, NUL-padded arrays that always contain a NUL.
 *
 * File layout:
 *   struct image_header
 *   section_count times: struct image_section, then `length` payload bytes
 * A section's payload is an array of the fixed-width record of its type
 * (image/subsystems.def), except memory: one struct image_mem_chunk then
 * its page data.  The section checksum is XXH3-64 over the section header
 * without its checksum field, followed by the payload.  Sections appear in
 * the order of image/subsystems.def.  Nothing may follow the last section.
 *
 * Objects are referred to by ids the checkpointer assigns: sessions by
 * session id, dataspaces by dataspace id, threads by thread number.  Every
 * cap record names the object it belongs to, and a valid image names only
 * objects it contains.
 */
#ifndef CAPSULE_IMAGE_H
#define CAPSULE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <capsule/abi.h>

#define IMAGE_MAGIC 0x31474d4943535043ULL /* "CPSCIMG1" */
/* v2: signal and timer records (v1 kept them as text in a cap's note and
 * a session's label) and the binary's hash and build-id in the component
 * record.  A reader refuses every other version. */
#define IMAGE_VERSION	  2u
#define IMAGE_PAGE_SIZE	  4096u
#define IMAGE_CHUNK_PAGES 64u /* pages per memory chunk: 256 KiB */
#define IMAGE_ZSTD_LEVEL  1

/* header flags */
enum image_flags {
	IMAGE_F_INCREMENTAL = 0x1, /* parent_id names the image this builds on */
	/* a post-copy skeleton (docs/migration.md): the memory records carry
	 * only some pages (or none); the others come from the migration's
	 * source after the start.  Never with IMAGE_F_INCREMENTAL; only a
	 * post-copy restore takes it. */
	IMAGE_F_PARTIAL = 0x2,
};

/* 152 bytes.  checksum: XXH3-64 of the bytes before it. */
struct image_header {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;		/* enum image_flags */
	uint32_t section_count; /* sections that follow */
	uint32_t header_size;	/* sizeof(struct image_header) */
	uint64_t image_id;	/* nonzero, chosen by the writer */
	uint64_t parent_id;	/* 0 = full image */
	uint64_t created_ns;	/* CLOCK_REALTIME at write */
	char node[48];		/* label of the node it was taken on */
	char label[48];		/* label of the component */
	uint64_t checksum;
} __attribute__((packed));

/* 24 bytes, followed by `length` payload bytes. */
struct image_section {
	uint32_t type; /* image/subsystems.def */
	uint32_t flags;
	uint64_t length;
	uint64_t checksum;
} __attribute__((packed));

/* Section types: IMAGE_SEC_component, IMAGE_SEC_thread, ... as numbered
 * in the one list of subsystems. */
#define IMAGE_SUBSYSTEM(name, type, record, flags) IMAGE_SEC_##name = type,
enum image_section_type {
#include "image/subsystems.def"
};
#undef IMAGE_SUBSYSTEM

/* --- records --------------------------------------------------------- */

/* The component: exactly one record.  binary_hash is XXH3-128 of the
 * ELF file in its canonical (big-endian) byte order, the digest
 * `xxh128sum` prints; all zero: not recorded.  build_id holds the
 * descriptor of the ELF's NT_GNU_BUILD_ID note (build_id_len bytes, the
 * rest zero; 0: the ELF has none). */
#define IMAGE_HASH_SIZE	    16u
#define IMAGE_BUILD_ID_SIZE 32u
struct image_component {
	char label[48];
	char binary[48]; /* ROM name of its ELF */
	uint64_t ram_quota, ram_used;
	uint64_t cap_quota, cap_used;
	uint64_t cap_map_addr; /* where its struct cap_map lives (guest address) */
	uint64_t cap_map_entries;
	uint64_t parent_badge; /* badge of its cap at FIXED_PARENT */
	uint64_t startup_info; /* address of its struct startup_info */
	uint8_t binary_hash[IMAGE_HASH_SIZE];
	uint8_t build_id[IMAGE_BUILD_ID_SIZE];
	uint32_t build_id_len; /* 0..IMAGE_BUILD_ID_SIZE */
	uint32_t reserved;     /* 0 */
	/* its checkpoint report (<capsule/checkpoint_abi.h>) and the ABI
	 * version its libbase reported */
	uint64_t cr_report_addr;
	uint32_t cr_abi_version;
	uint32_t pad;
} __attribute__((packed));

enum image_session_type {
	IMAGE_SESSION_PD = 1,
	IMAGE_SESSION_CPU,
	IMAGE_SESSION_RM,
	IMAGE_SESSION_ROM,
	IMAGE_SESSION_LOG,
	IMAGE_SESSION_TIMER,
	IMAGE_SESSION_PARENT,
	IMAGE_SESSION_OTHER, /* a service routed outside the monitor */
	IMAGE_SESSION_MAX_,
};
enum image_session_flags {
	IMAGE_SESSION_F_OUTSIDE = 0x1, /* reopen at the real service on restore */
	IMAGE_SESSION_F_MEMBER = 0x2,  /* served by another member of the group
					  (image/group.h): id is the badge of its
					  IMAGE_CAP_MEMBER cap */
};

/* A session the component opened.  id unique, nonzero. */
struct image_session {
	uint64_t id;
	uint32_t type;	/* enum image_session_type */
	uint32_t flags; /* enum image_session_flags */
	uint64_t ram_quota;
	char service[32];
	char label[64];
	char args[256];
} __attribute__((packed));

/* A thread: nr unique, < THREAD_AREA_THREADS. */
struct image_thread {
	uint32_t nr;
	uint32_t state; /* enum thread_state */
	char name[32];
	uint64_t utcb_addr;
	uint64_t cpu_session; /* session id of its CPU session, 0 = none */
	struct cpu_regs regs;
	struct utcb utcb;
} __attribute__((packed));

enum image_ds_kind {
	IMAGE_DS_RAM = 1,
	IMAGE_DS_ROM,	  /* rom names the module */
	IMAGE_DS_MANAGED, /* a region map's dataspace: a managed map's
			     (rm_session) or the PD's own (pd_map) */
	IMAGE_DS_MEMBER,  /* another group member's dataspace, attached in this
			     member (image/group.h): id is its id in the
			     owner's image, member.owner that member's index;
			     no bytes here */
	IMAGE_DS_MAX_,
};

/* A dataspace.  id unique, nonzero; size a nonzero multiple of pages. */
struct image_dataspace {
	uint64_t id;
	uint64_t size;
	uint32_t kind;	/* enum image_ds_kind */
	uint32_t flags; /* reserved: 0 */
	union {
		char rom[48]; /* IMAGE_DS_ROM: the module's name; else empty */
		struct {      /* IMAGE_DS_MANAGED: the region map */
			uint64_t rm_session; /* the IMAGE_SESSION_RM that made it,
						0: the PD's own map (pd_map) */
			uint64_t
			    fault_kcap; /* its fault handler's context cap, 0: none */
			/* rm_session 0: IMAGE_RM_ADDRESS_SPACE or
			 * IMAGE_RM_STACK_AREA, the map of the component's PD
			 * whose dataspace this is (no fault handler); else 0 */
			uint32_t pd_map;
			uint8_t zero[28];
		} __attribute__((packed)) managed;
		struct {		/* IMAGE_DS_MEMBER */
			uint32_t owner; /* its member index in the group image */
			uint8_t zero[44];
		} __attribute__((packed)) member;
	};
} __attribute__((packed));

enum image_rm_kind {
	IMAGE_RM_ADDRESS_SPACE = 1,
	IMAGE_RM_STACK_AREA,
	IMAGE_RM_MANAGED, /* rm_ds names the IMAGE_DS_MANAGED dataspace */
	IMAGE_RM_MAX_,
};

/* One attachment.  Regions of one region map never overlap; a region of
 * a managed region map lies within its dataspace. */
struct image_region {
	uint32_t rm_kind; /* enum image_rm_kind */
	uint32_t perms;	  /* enum mem_perm */
	uint64_t rm_ds;	  /* IMAGE_RM_MANAGED: its dataspace id, else 0 */
	uint64_t addr;
	uint64_t size;
	uint64_t ds_id; /* what is attached */
	uint64_t offset;
} __attribute__((packed));

/* Classes of docs/design.md's checkpoint table; `obj` and `arg` per class: */
enum image_cap_class {
	IMAGE_CAP_FIXED = 1,	  /* core-made fixed selector (task, thread area):
				     obj = thread nr (thread-area slots) */
	IMAGE_CAP_SESSION,	  /* obj = session id (monitor-served) */
	IMAGE_CAP_DATASPACE,	  /* obj = dataspace id */
	IMAGE_CAP_REGION_MAP,	  /* arg = enum image_rm_kind, obj = managed ds id */
	IMAGE_CAP_THREAD,	  /* obj = thread nr */
	IMAGE_CAP_RPC_GATE,	  /* obj = PD session id, arg = entrypoint thread nr */
	IMAGE_CAP_SIGNAL_SOURCE,  /* obj = PD session id */
	IMAGE_CAP_SIGNAL_CONTEXT, /* obj = PD session id, arg = imprint */
	IMAGE_CAP_SEMAPHORE_IRQ,  /* obj = PD session id, arg = bound thread nr */
	IMAGE_CAP_OUTSIDE,	  /* obj = session id (IMAGE_SESSION_F_OUTSIDE) */
	IMAGE_CAP_DEAD,		  /* arg = enum image_dead_reason, skipped */
	IMAGE_CAP_MEMBER,	  /* another group member's object (image/group.h):
				     obj = its member index, arg = the object's
				     badge at that member */
	IMAGE_CAP_MAX_,
};
enum image_dead_reason {
	IMAGE_DEAD_CONSTRUCTOR = 1, /* entrypoint constructor cap after construction */
	IMAGE_DEAD_REVOKED,	    /* object gone (CAP_ID_INVALID or revoked) */
	IMAGE_DEAD_MAX_,
};

/* One live (kcap, badge) pair of the cap map.  kcaps unique. */
struct image_cap {
	uint64_t kcap;
	uint64_t badge; /* at checkpoint; restore assigns new ones */
	uint32_t class; /* enum image_cap_class */
	uint32_t rights;
	uint64_t obj;
	uint64_t arg;
	char note[32]; /* free text (e.g. why an entry is dead) */
} __attribute__((packed));

/* A signal context of the component's PD.  One record per context the
 * cap map names: its IMAGE_CAP_SIGNAL_CONTEXT caps carry this badge, obj
 * = pd_session and arg = imprint.  badge and imprint unique, nonzero. */
struct image_signal {
	uint64_t badge;	     /* at checkpoint; restore assigns a new one */
	uint64_t pd_session; /* the session it was made at */
	uint64_t imprint;    /* what its handler receives with a signal */
	uint64_t pending;    /* submitted and not yet taken at the checkpoint:
				submitted again after a restore (< 2^32) */
	uint32_t flags;	     /* reserved: 0 */
	uint32_t reserved;   /* 0 */
} __attribute__((packed));

/* The state of one IMAGE_SESSION_TIMER session: exactly one record per
 * Timer session of the image.  Times in microseconds. */
struct image_timer {
	uint64_t session;  /* the Timer session */
	uint64_t sigh;	   /* badge of the image_signal it signals, 0: none */
	uint64_t period;   /* periodic timeout, 0: none */
	uint64_t oneshot;  /* a pending one-shot's time left, 0: none */
	uint64_t elapsed;  /* TIMER_ELAPSED as the component would read it at
			      the checkpoint (it goes on from there) */
	uint32_t flags;	   /* reserved: 0 */
	uint32_t reserved; /* 0 */
} __attribute__((packed));

/* Memory section header: IMAGE_CHUNK_PAGES pages of one dataspace from
 * first_page on (fewer at its end).  Bit i of `present` says the chunk
 * carries page first_page + i (a full image carries all pages, an
 * incremental one the dirty ones); bit i of `nonzero` (a subset) that the
 * page's bytes follow -- a present page without it is all zeros.  The
 * data is the nonzero pages in order: zstd-compressed (one frame of
 * data_len bytes) or, with IMAGE_MEM_RAW, stored.  With IMAGE_MEM_XOR
 * (an incremental image only) each present page is its difference to
 * the same page as the parent chain holds it: the page is that page XOR
 * its bytes, and a present page without bytes is unchanged (a
 * migration's final image: each page of the working set differs from
 * the round before's in a few words, and its mostly-zero difference
 * compresses to some tens of bytes). */
enum image_mem_flags { IMAGE_MEM_RAW = 0x1, IMAGE_MEM_XOR = 0x2 };
struct image_mem_chunk {
	uint64_t ds_id;
	uint64_t first_page; /* a multiple of IMAGE_CHUNK_PAGES */
	uint64_t present;
	uint64_t nonzero;
	uint32_t npages; /* 1..IMAGE_CHUNK_PAGES */
	uint32_t flags;	 /* enum image_mem_flags */
	uint32_t data_len;
	uint32_t raw_len; /* popcount(nonzero) * IMAGE_PAGE_SIZE */
} __attribute__((packed));

/* The parent of an incremental image: exactly one record in an
 * incremental image (the section after the component), none in a full
 * one.  hash is XXH3-128 of the whole parent file in canonical byte
 * order (as `xxh128sum` prints it); path is where the writer found the
 * parent.  A reader looks for the parent file under path's last element
 * next to the child and, if it is not there, at path (a relative path
 * from the child's directory) (docs/cr.md). */
#define IMAGE_PARENT_PATH 256u
#define IMAGE_CHAIN_MAX	  64u /* images in one chain, the full one included */
struct image_parent {
	uint64_t id;		       /* the header's parent_id */
	uint8_t hash[IMAGE_HASH_SIZE]; /* of the parent file */
	uint32_t depth;		       /* incremental images up to the full one,
					  this one included: 1..IMAGE_CHAIN_MAX-1 */
	uint32_t reserved;	       /* 0 */
	char path[IMAGE_PARENT_PATH];  /* nonempty */
} __attribute__((packed));

/* CRIU-like statistics: exactly one record, the last section. */
struct image_stats {
	uint64_t paused_ns;	   /* target paused (set by the monitor) */
	uint64_t write_ns;	   /* time to write the sections before this one */
	uint64_t pages_scanned;	   /* pages looked at */
	uint64_t pages_written;	   /* present pages (incl. zero ones) */
	uint64_t zero_pages;	   /* present pages elided as zero */
	uint64_t bytes_raw;	   /* nonzero page bytes */
	uint64_t bytes_compressed; /* their bytes in the image */
	uint64_t image_bytes;	   /* file size up to the stats section */
} __attribute__((packed));

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "records are little-endian");
_Static_assert(sizeof(struct image_header) == 152, "header");
_Static_assert(sizeof(struct image_section) == 24, "section");
_Static_assert(sizeof(struct image_component) == 232, "component");
_Static_assert(sizeof(struct image_session) == 376, "session");
_Static_assert(sizeof(struct image_thread) == 1264, "thread");
_Static_assert(sizeof(struct image_dataspace) == 72, "dataspace");
_Static_assert(sizeof(struct image_region) == 48, "region");
_Static_assert(sizeof(struct image_cap) == 72, "cap");
_Static_assert(sizeof(struct image_signal) == 40, "signal");
_Static_assert(sizeof(struct image_timer) == 48, "timer");
_Static_assert(sizeof(struct image_mem_chunk) == 48, "mem chunk");
_Static_assert(sizeof(struct image_stats) == 64, "stats");
_Static_assert(sizeof(struct image_parent) == 288, "parent");

/* --- in-memory model ------------------------------------------------- */

/* Memory of one dataspace.  data: `size` bytes (the dataspace's whole
 * contents); NULL in a model read with IMAGE_READ_STREAM, whose bytes
 * stay in the file (image_memory_fill).  present: NULL = every page; else
 * a bitmap (bit i of byte i/8) of the pages this image carries
 * (incremental images).  pages, nonzero_pages: counted by the reader
 * (present pages, those of them with bytes in the image); 0 in a model
 * built by hand.  xor (read, NULL if none): a bitmap of the present
 * pages carried as differences to the parent chain's (IMAGE_MEM_XOR),
 * whose data holds that difference; delta_pages their count. */
struct image_chunk_ref;
struct image_memory {
	uint64_t ds_id;
	uint64_t size;
	uint8_t *data;
	uint8_t *present;
	uint8_t * xor ;
	uint64_t delta_pages;
	/* Writing, with present (may be NULL): the present pages one after
	 * the other, in order, read instead of their places in data (an
	 * incremental checkpoint's copy, written as it was taken) */
	uint8_t *packed;
	/* data is not the model's (a checkpoint streamed from the paused
	 * target's memory): whoever releases the model leaves it */
	int borrowed;
	uint64_t pages, nonzero_pages;
	struct image_chunk_ref *chunk; /* IMAGE_READ_STREAM: chunks with bytes */
	uint32_t nchunks, chunk_cap;
};
struct image_stream;

/*
 * What a checkpointer fills and a restorer consumes: the records of every
 * section plus the memory.  image_write() only reads it.  A model from
 * image_read() owns every array and buffer (free it with
 * image_model_free()) and is fully validated: references resolve, kcaps
 * obey the fixed-selector rules, regions do not overlap, memory lies
 * within its dataspaces, every signal-context cap has its signal record
 * and every Timer session its timer record.  Counts are element counts.
 */
struct image_model {
	uint32_t flags; /* enum image_flags */
	uint64_t image_id, parent_id, created_ns;
	char node[48];
	struct image_component component;
	struct image_session *sessions;
	uint32_t nsessions;
	struct image_thread *threads;
	uint32_t nthreads;
	struct image_dataspace *dataspaces;
	uint32_t ndataspaces;
	struct image_region *regions;
	uint32_t nregions;
	struct image_cap *caps;
	uint32_t ncaps;
	struct image_signal *signals;
	uint32_t nsignals;
	struct image_timer *timers;
	uint32_t ntimers;
	struct image_memory *memory;
	uint32_t nmemory;
	struct image_stats stats;    /* image_write fills all but paused_ns */
	struct image_stream *stream; /* IMAGE_READ_STREAM: the file, kept mapped */
	struct image_parent parent;  /* incremental images only; else all 0 */
	/* May be NULL: told the bytes of memory done, chunk by chunk, by
	 * image_write (a dataspace's bytes looked at) and image_memory_fill
	 * (bytes written into the destination), on their thread: a progress
	 * meter (the control plane's control_meter_add). */
	void (*progress)(void *arg, uint64_t bytes);
	void *progress_arg;
	/* image_write: no fsync (a temporary file, e.g. a migration's spool
	 * image, that is read back and sent before anything relies on it) */
	int no_sync;
	/* image_write: memory stored as it is (IMAGE_MEM_RAW), not
	 * compressed: an image written while its target waits paused (a
	 * migration's final image), where compressing costs more time than
	 * the bytes it saves on the way (zstd: 3-4 ms of CPU for 655 pages
	 * that do not shrink, 0.6-1 ms without) */
	int no_compress;
	/* image_write: the memory may change while it is written (a
	 * migration's first round, read in place while its target runs;
	 * what changed is dirty and goes in the next round): each chunk's
	 * pages are copied once before they are looked at, so its zero-page
	 * bitmap, compressed frame and checksum describe the same bytes; and
	 * after a chunk that zstd did not shrink the next 7 are stored raw
	 * without trying (the target's memory rarely changes its kind from
	 * one chunk to the next; zstd on 256 MiB that does not shrink costs
	 * the round some 50 ms of CPU) */
	int live;
	/* image_write of an incremental image: if set, the bytes of page
	 * `page` of dataspace ds_id as the parent chain holds them, or NULL
	 * if not known; a present page it knows is stored as its difference
	 * to them (IMAGE_MEM_XOR), the others whole.  Called on the writer's
	 * thread; the bytes must stay as they are until image_write returns */
	const uint8_t *(*delta_base)(void *arg, uint64_t ds_id, uint64_t page);
	void *delta_arg;
	/* image_write: if set, receives the XXH3-128 of the bytes written,
	 * as image_file_hash would give it for the file, computed as they
	 * are written (no second read of the file) */
	uint8_t *hash_out;
	/* image_write: write out each time this many bytes are assembled
	 * (0: 1 MiB, IMAGE_FLUSH).  A reader at the other end of a pipe (a
	 * migration's image, sent as it is written) gets the first bytes,
	 * and the writer the pipe's room back, that much sooner */
	uint32_t flush_bytes;
	/* image_read_flags with IMAGE_READ_HASH: the file's XXH3-128 */
	uint8_t file_hash[IMAGE_HASH_SIZE];
};

/* Write `m` to fd (any file, pipe or socket; written sequentially) or to
 * path (created/truncated, removed on failure).  stats (may be NULL)
 * receives what was written in the stats section.  0 or -errno; on error
 * err (may be NULL) holds one line. */
int image_write_fd(int fd, const struct image_model *m, struct image_stats *stats,
		   char *err, size_t errlen);
int image_write(const char *path, const struct image_model *m, struct image_stats *stats,
		char *err, size_t errlen);

/* Read and validate the image at path.  0 and *out (free with
 * image_model_free) or -errno (-EINVAL: invalid image) with one line in
 * err naming the file, the section and what is wrong; *out is NULL. */
int image_read(const char *path, struct image_model **out, char *err, size_t errlen);
/* image_read with flags.  IMAGE_READ_STREAM: memory sections are checked
 * (bitmaps, lengths, each zstd frame's size) but not decompressed; the
 * file stays mapped in the model and image_memory_fill writes a
 * dataspace's bytes straight into their destination, so that reading
 * costs memory in proportion to the file, not to the dataspaces. */
/* IMAGE_READ_HASH: also the file's XXH3-128 into the model's file_hash,
 * as image_file_hash gives it, from the mapping the read walks anyway
 * (no second read of the file: a migration's 256 MiB round). */
enum image_read_flags { IMAGE_READ_STREAM = 0x1, IMAGE_READ_HASH = 0x2 };
int image_read_flags(const char *path, unsigned flags, struct image_model **out,
		     char *err, size_t errlen);
/* Of a streamed model: write the pages of dataspace ds_id that hold data
 * into dst (its `size` bytes, zero on entry: pages without data are not
 * touched), decompressing each chunk from the file into place; the
 * file's pages are dropped as they are consumed.  *written: bytes
 * written.  0, or -EINVAL/-ENOMEM with one line in err naming the file,
 * the section and the chunk. */
int image_memory_fill(const struct image_model *m, uint64_t ds_id, void *dst,
		      uint64_t size, uint64_t *written, char *err, size_t errlen);
/* An image read from a pipe as it arrives (image/read_pipe.c), in two
 * steps.  image_pipe_begin reads the header and the records (every
 * section before the first memory section) from fd and checks them (with
 * wait_fd >= 0, fd is a file being written: at its end the reader waits
 * for a byte on wait_fd, the sign that it grew, and the end of wait_fd
 * is the end of the file's growth):
 * 0 with *out and *model (the records; no memory yet), or -errno with
 * one line in err.  image_pipe_finish reads the rest: each memory
 * chunk's pages written into the memory dest(arg, ds_id, size) gives
 * for its dataspace (zero on entry, the caller's, which the model never
 * frees; NULL: refused), then the stats and the end of the stream, and
 * checks the whole model as image_read does; the stream's XXH3-128
 * into model->file_hash.  0, or -errno with one line in err (the pages
 * may be partly written).  image_pipe_end frees the reader, and the
 * model too if free_model. */
struct image_pipe;
int image_pipe_begin(int fd, int wait_fd, const char *name, struct image_pipe **out,
		     struct image_model **model, char *err, size_t errlen);
int image_pipe_finish(struct image_pipe *p,
		      void *(*dest)(void *arg, uint64_t ds_id, uint64_t size), void *arg,
		      char *err, size_t errlen);
void image_pipe_end(struct image_pipe *p, int free_model);
/* The same on an image held in memory; name is used in messages. */
int image_read_mem(const char *name, const void *buf, size_t len,
		   struct image_model **out, char *err, size_t errlen);
void image_model_free(struct image_model *m);

/* Validate a model the way the reader does (references, kcap rules,
 * overlaps); 0 or -EINVAL with one line in err.  Also run by image_write. */
int image_model_check(const struct image_model *m, char *err, size_t errlen);

/* --- chains of incremental images (image/chain.c) --------------------- */

/* XXH3-128 of the file at path, canonical byte order.  0 or -errno with
 * one line in err. */
int image_file_hash(const char *path, uint8_t hash[IMAGE_HASH_SIZE], char *err,
		    size_t errlen);
/* Where the parent p of the image at child is: p->path's last element in
 * child's directory if it exists, else p->path (relative: from child's
 * directory).  0 with out, or -ENOENT with out = the first candidate. */
int image_parent_find(const char *child, const struct image_parent *p, char *out,
		      size_t n);
/* Read the image at path and, if it is incremental, every parent down to
 * the full image, into one full model: the newest image's records, every
 * page from the newest image that carries it.  A missing parent, one
 * whose id or hash is not what its child names, a chain that loops or is
 * longer than IMAGE_CHAIN_MAX, or a page no image of the chain carries is
 * refused with one line naming the file.  *out as image_read's. */
int image_read_chain(const char *path, struct image_model **out, char *err,
		     size_t errlen);
/* The same with image_read_flags' flags for a full image (an incremental
 * one and its parents are read whole, to be merged). */
int image_read_chain_flags(const char *path, unsigned flags, struct image_model **out,
			   char *err, size_t errlen);

/* An image (read whole or streamed) applied to dst, the `size` bytes of
 * dataspace ds_id as its parent chain left them (image/delta.c): every
 * page the image carries is written (a zero page as zeros), the others
 * are left.  *pages: pages written.  0, or -EINVAL with one line in err
 * (the image's dataspace has another size). */
int image_memory_apply(const struct image_model *m, uint64_t ds_id, void *dst,
		       uint64_t size, uint64_t *pages, char *err, size_t errlen);
/* 1 if the image (read whole or streamed) carries every page of
 * dataspace ds_id. */
int image_memory_whole(const struct image_model *m, uint64_t ds_id);

/* Names for printing; "?" for unknown values. */
const char *image_section_name(uint32_t type);
const char *image_cap_class_name(uint32_t class);
const char *image_session_type_name(uint32_t type);
const char *image_ds_kind_name(uint32_t kind);
const char *image_rm_kind_name(uint32_t kind);
const char *image_thread_state_name(uint32_t state);
const char *image_dead_reason_name(uint32_t reason);

#endif
