/* Plain C interface of libsrl_spm.so, the only code that touches sentencepiece.
 * sentencepiece embeds its own protobuf-lite and exports those symbols; libtorch loads the system
 * libprotobuf. Both in one link map crash at static initialisation, so the main library never links
 * sentencepiece: it dlopen()s this bridge with RTLD_LOCAL | RTLD_DEEPBIND (see text/spm_loader.hpp).
 * Only C types cross the boundary and no C++ exception escapes it. */
#ifndef SRL_TEXT_SPM_BRIDGE_H
#define SRL_TEXT_SPM_BRIDGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SRL_SPM_API_VERSION 1

typedef struct srl_spm srl_spm; /* a loaded model; const use is thread-safe */

/* Receives output bytes or ids; called zero or more times, chunks are to be appended. */
typedef void (*srl_spm_bytes_sink)(void* ctx, const char* data, size_t n);
typedef void (*srl_spm_ids_sink)(void* ctx, const int* ids, size_t n);

typedef int (*srl_spm_api_version_fn)(void);
/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
typedef const char* (*srl_spm_last_error_fn)(void);
/* Parses a serialized ModelProto. NULL on failure (see last_error). */
typedef srl_spm* (*srl_spm_load_fn)(const char* bytes, size_t n);
typedef void (*srl_spm_free_fn)(srl_spm* m);
typedef int (*srl_spm_vocab_size_fn)(const srl_spm* m);
/* Encodes text to ids (no BOS/EOS). 0 on success, -1 on failure. */
typedef int (*srl_spm_encode_fn)(const srl_spm* m, const char* text, size_t n, srl_spm_ids_sink sink, void* ctx);
/* sentencepiece's own decode of ids. 0 on success, -1 on failure. */
typedef int (*srl_spm_decode_fn)(const srl_spm* m, const int* ids, size_t n, srl_spm_bytes_sink sink, void* ctx);
/* Piece string of an id; the pointer lives as long as the model. NULL for an out-of-range id. */
typedef const char* (*srl_spm_id_to_piece_fn)(const srl_spm* m, int id, size_t* len);
/* Id of a piece, or the unk id if the piece is not in the vocabulary. */
typedef int (*srl_spm_piece_to_id_fn)(const srl_spm* m, const char* piece, size_t n);
/* Piece kinds: 1/0; -1 for an out-of-range id. */
typedef int (*srl_spm_is_control_fn)(const srl_spm* m, int id);
typedef int (*srl_spm_is_byte_fn)(const srl_spm* m, int id);
typedef int (*srl_spm_is_unknown_fn)(const srl_spm* m, int id);
/* Trains a model. `options` is newline-separated key=value lines (sentencepiece trainer flags, values
 * may contain spaces); the serialized model goes to `sink`, no file is written. 0 on success. */
typedef int (*srl_spm_train_fn)(const char* options, srl_spm_bytes_sink sink, void* ctx);

#ifdef __cplusplus
}
#endif

#endif /* SRL_TEXT_SPM_BRIDGE_H */
