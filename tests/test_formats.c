// File readers: GGUF metadata and dequantisation against gguf-py (fixtures), safetensors
// single and sharded, llama2.c headers.
#include "gguf.h"
#include "llama2c.h"
#include "quant.h"
#include "safetensors.h"
#include "testutil.h"

static GGUF open_types(void) {
    GGUF g;
    Error err = {{0}};
    ck_assert_msg(gguf_open(&g, fixture_path("types.gguf"), &err) == 0, "%s", err.msg);
    return g;
}

// The values tools/fixtures/make_fixtures.py wrote with gguf-py's GGUFWriter.
START_TEST(gguf_metadata_types) {
    GGUF g = open_types();
    ck_assert_int_eq(g.version, 3);
    const GGUFKV *kv;
    ck_assert((kv = gguf_find(&g, "t.u8")) && kv->type == GGUF_U8 && kv->v.u == 200);
    ck_assert((kv = gguf_find(&g, "t.i8")) && kv->type == GGUF_I8 && kv->v.i == -100);
    ck_assert((kv = gguf_find(&g, "t.u16")) && kv->type == GGUF_U16 && kv->v.u == 60000);
    ck_assert((kv = gguf_find(&g, "t.i16")) && kv->type == GGUF_I16 && kv->v.i == -30000);
    ck_assert((kv = gguf_find(&g, "t.u32")) && kv->type == GGUF_U32 && kv->v.u == 4000000000u);
    ck_assert((kv = gguf_find(&g, "t.i32")) && kv->type == GGUF_I32 && kv->v.i == -2000000000);
    ck_assert((kv = gguf_find(&g, "t.u64")) && kv->type == GGUF_U64 && kv->v.u == 10000000000ull);
    ck_assert((kv = gguf_find(&g, "t.i64")) && kv->type == GGUF_I64 && kv->v.i == -10000000000ll);
    ck_assert((kv = gguf_find(&g, "t.f32")) && kv->type == GGUF_F32 && kv->v.f == 1.5);
    ck_assert((kv = gguf_find(&g, "t.f64")) && kv->type == GGUF_F64 && kv->v.f == -2.25);
    ck_assert((kv = gguf_find(&g, "t.bool")) && kv->type == GGUF_BOOL && kv->v.u == 1);
    ck_assert((kv = gguf_find(&g, "t.str")) && kv->type == GGUF_STRING && gguf_str_eq(kv->v.s, "h\xC3\xA9llo"));
    ck_assert((kv = gguf_find(&g, "t.arr_i32")) && kv->type == GGUF_ARRAY && kv->arr_n == 3);
    ck_assert(gguf_arr_num(kv, 0) == 1 && gguf_arr_num(kv, 1) == -2 && gguf_arr_num(kv, 2) == 3);
    ck_assert((kv = gguf_find(&g, "t.arr_str")) && kv->arr_type == GGUF_STRING && kv->arr_n == 3);
    GGUFStr s[3];
    gguf_str_array(kv, s);
    ck_assert(gguf_str_eq(s[0], "a") && gguf_str_eq(s[1], "bc") && gguf_str_eq(s[2], ""));
    GGUFStr arch;
    ck_assert(gguf_get_str(&g, "general.architecture", &arch, NULL) == 0 && gguf_str_eq(arch, "testarch"));
    uint32_t u;
    Error err = {{0}};
    ck_assert(gguf_get_u32(&g, "t.i8", &u, &err) == -1); // negative: not a u32
    ck_assert_ptr_nonnull(strstr(err.msg, "t.i8"));
    gguf_close(&g);
}
END_TEST

// Every tensor type we read, dequantised by gguf-py (quants.dequantize) as the reference.
START_TEST(gguf_dequantize_matches_gguf_py) {
    GGUF g = open_types();
    cJSON *j = read_json(fixture_path("types_dequant.json"));
    size_t n_ref, off = 0;
    float *ref = read_f32(fixture_path("types_dequant.f32"), &n_ref);
    const cJSON *t;
    int checked = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tensors")) {
        const char *name = cJSON_GetObjectItem(t, "name")->valuestring;
        const GGUFTensor *gt = gguf_tensor(&g, name);
        ck_assert_msg(gt != NULL, "no tensor %s", name);
        ck_assert_str_eq(ggml_type_name(gt->type), cJSON_GetObjectItem(t, "type")->valuestring);
        float *out = malloc(gt->n_elements * sizeof(float));
        dequantize(out, gt->data, gt->type, gt->n_elements);
        for (uint64_t i = 0; i < gt->n_elements; i++) {
            // float32 arithmetic on both sides, possibly in another order: a few ulps
            double tol = 1e-6 * fabs(ref[off + i]) + 1e-7;
            ck_assert_msg(fabs(out[i] - ref[off + i]) <= tol, "%s[%llu]: %.9g vs gguf-py %.9g", name,
                          (unsigned long long)i, out[i], ref[off + i]);
        }
        off += gt->n_elements;
        checked++;
        free(out);
    }
    ck_assert_uint_eq(off, n_ref);
    ck_assert_int_eq(checked, 10);
    free(ref);
    cJSON_Delete(j);
    gguf_close(&g);
}
END_TEST

// Hand-derived fp16 cases: the edges of the format.
START_TEST(fp16_edge_cases) {
    ck_assert(fp16_to_fp32(0x3C00) == 1.0f);
    ck_assert(fp16_to_fp32(0xC000) == -2.0f);
    ck_assert(fp16_to_fp32(0x7BFF) == 65504.0f);            // largest normal
    ck_assert(fp16_to_fp32(0x0001) == 5.9604644775390625e-8f); // smallest subnormal, 2^-24
    ck_assert(fp16_to_fp32(0x0400) == 6.103515625e-5f);     // smallest normal, 2^-14
    ck_assert(isinf(fp16_to_fp32(0x7C00)) && isnan(fp16_to_fp32(0x7E00)));
    ck_assert(signbit(fp16_to_fp32(0x8000)));
    ck_assert(bf16_to_fp32(0x3F80) == 1.0f && bf16_to_fp32(0xC040) == -3.0f);
}
END_TEST

START_TEST(safetensors_sharded) {
    SafeTensors st;
    Error err = {{0}};
    ck_assert_msg(safetensors_open_dir(&st, fixture_path("neox_sequential"), &err) == 0, "%s", err.msg);
    ck_assert_int_gt(st.n_files, 1);
    const STTensor *t = safetensors_find(&st, "gpt_neox.layers.0.attention.query_key_value.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->type, GGML_BF16);
    ck_assert_int_eq(t->n_dims, 2);
    ck_assert(t->shape[0] == 384 && t->shape[1] == 128);
    safetensors_close(&st);
    ck_assert_msg(safetensors_open_dir(&st, fixture_path("neox_parallel"), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(st.n_files, 1);
    ck_assert_int_eq(safetensors_find(&st, "embed_out.weight")->type, GGML_F32);
    safetensors_close(&st);
}
END_TEST

START_TEST(llama2c_header) {
    Llama2cFile f;
    Error err = {{0}};
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", shared_dir());
    ck_assert_msg(llama2c_open(&f, path, &err) == 0, "%s", err.msg);
    // the header stated in ../shared/models/stories260K/PROVENANCE.md
    ck_assert(f.dim == 64 && f.hidden_dim == 172 && f.n_layers == 5 && f.n_heads == 8 && f.n_kv_heads == 4 &&
              f.vocab_size == 512 && f.seq_len == 512 && f.shared_classifier);
    ck_assert_uint_eq(llama2c_expected_floats(&f, 1), f.n_floats);
    llama2c_close(&f);
}
END_TEST

int main(void) {
    RUN_TESTS("formats", 60,
              gguf_metadata_types,
              gguf_dequantize_matches_gguf_py,
              fp16_edge_cases,
              safetensors_sharded,
              llama2c_header);
}
