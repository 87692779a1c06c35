// tokenizer.h: text <-> token ids, for the two BPE flavours our models use.
//
//  TOK_BYTE_BPE  GPT-2 style byte-level BPE (GPT-NeoX tokenizer.json, SmolLM2's GGUF vocabulary):
//                split out added/special tokens, NFC-normalise if asked, pre-tokenise with the
//                GPT-2 regex (after isolating digits for SmolLM2), map each byte to a printable
//                character, then apply merges in rank order.
//  TOK_SPM       SentencePiece-style BPE (llama2.c tokenizer.bin, GGUF 'llama' vocabularies):
//                a leading space, characters looked up whole or as <0xXX> byte tokens, then the
//                adjacent pair whose merge has the highest score is merged until none is left.
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { TOK_BYTE_BPE, TOK_SPM } TokKind;

typedef struct {
    uint32_t *keys;  // [cap] index into the owner's table + 1; 0 = empty
    uint32_t cap;
} TokIndex;          // open-addressing hash set over token pieces

typedef struct {
    uint64_t *keys;  // [cap] (left << 32 | right) + 1; 0 = empty
    int32_t *rank;   // [cap]
    int32_t *merged; // [cap]
    uint32_t cap;
} PairMap;           // byte-level merges: (left id, right id) -> (rank, merged id)

typedef struct {
    uint64_t *keys;  // [cap] (node << 8 | byte) + 1; 0 = empty
    int32_t *child;  // [cap] the node that byte leads to
    int32_t *id;     // [n_nodes] the special token that ends at this node, or -1
    uint32_t cap;
    int32_t n_nodes; // node 0 is the root
} SpecialTrie;       // special tokens by their bytes: the longest one at a position in one walk

typedef struct {
    TokKind kind;
    int n_vocab;
    int max_piece_len;     // longest piece, in bytes
    char **piece;          // [n_vocab] token strings as the vocabulary stores them
    int *piece_len;        // [n_vocab]
    float *score;          // [n_vocab] SPM merge scores
    uint8_t *special;      // [n_vocab] 1 for tokens matched verbatim in the text (control, added)
    TokIndex index;        // piece -> id
    PairMap merges;        // TOK_BYTE_BPE only
    SpecialTrie added;     // the special tokens, found in the text by walking their bytes
    int n_added;
    int simple_merges;     // 1: merge by the simple O(n^2) scans (the book's first version), 0: the heap
    void *pretok;          // pcre2_code*: the pre-tokenisation regex (byte-level only)
    void *digits;          // pcre2_code*: \p{N}, when digits are isolated first
    int nfc;               // normalise text to NFC before pre-tokenising
    int add_prefix_space;  // prepend ' ' to the text (SPM dummy prefix, ByteLevel option)
    int spm_meta_space;    // SPM vocabularies that store ' ' as U+2581 (GGUF), not raw (llama2.c)
    int byte_id[256];      // byte-level: id of each byte's symbol; SPM: id of <0xXX>, or -1
    uint8_t sym_byte[324]; // byte-level: the byte behind each of the 324 printable symbols' code points
    int bos_id, eos_id;    // -1 if none
    int unk_id;            // SPM: for bytes with no <0xXX> token; -1 if none
    int add_bos;           // encode() prepends BOS
    int eot_ids[4];        // ids that end an assistant turn (eos, <|im_end|>, ...), -1 padded
    char path[1024];       // the file it was read from, for error messages
} Tokenizer;

typedef struct {
    int *ids;
    int n, cap;
} TokenList;

void tokenlist_free(TokenList *l);

// Loaders. tokenizer_load picks one from the model path: a GGUF file's own vocabulary, a Hugging
// Face directory's tokenizer.json, or for a llama2.c .bin the tok<vocab>.bin / tokenizer.bin
// beside it; `explicit_path` (may be NULL) overrides that choice.
int tokenizer_load(Tokenizer *t, const char *model_path, const char *explicit_path, Error *err);
int tokenizer_from_gguf(Tokenizer *t, const char *path, Error *err);
int tokenizer_from_json(Tokenizer *t, const char *path, Error *err);
int tokenizer_from_json_text(Tokenizer *t, const char *text, size_t len, const char *name, Error *err);
int tokenizer_from_llama2c(Tokenizer *t, const char *path, Error *err);
void tokenizer_free(Tokenizer *t);
// A tokenizer fits a model when every id it can produce is a row of the model's embedding and
// the embedding is at most padded to the next multiple of 1024 (Pythia: 50277 -> 50304);
// otherwise an error that names both files.
int tokenizer_check_model(const Tokenizer *t, int model_vocab, const char *model_path, Error *err);

// Appends the ids of text[len] to out (BOS first if the tokenizer adds one and add_bos is set).
// Invalid UTF-8 in the text is read as U+FFFD, as Python's errors="replace" would.
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int add_bos, TokenList *out, Error *err);
int tokenizer_find(const Tokenizer *t, const char *piece); // id of an exact piece, or -1

// Streaming decode: feed ids one by one; only whole UTF-8 characters come out, so a character
// split over several byte tokens is never printed in halves.
typedef struct {
    int prev;             // previous id (-1 at the start)
    uint8_t pending[4];   // bytes of an unfinished UTF-8 character
    int n_pending;
} TokDecoder;

void tokdecoder_init(TokDecoder *d);
// Writes the text that id completes into out (NUL-terminated; out_cap >= 3 * max_piece_len + 16
// always suffices); returns its length. Out-of-range ids decode to nothing.
int tokdecoder_push(TokDecoder *d, const Tokenizer *t, int id, char *out, int out_cap);
// Whatever is left (an unfinished character becomes U+FFFD).
int tokdecoder_flush(TokDecoder *d, char *out, int out_cap);
// Decodes a whole list into a malloc'ed NUL-terminated string.
char *tokenizer_decode(const Tokenizer *t, const int *ids, int n);

#endif
