# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The compiled scoring kernel: TF-IDF features and linear decision values of paragraphs.

For every paragraph (already normalised by ``classify.text.normalise_text``, as the fitted
vectorizers' preprocessor does) and every feature block (one fitted ``TfidfVectorizer``), the
kernel finds the paragraph's n-grams exactly as scikit-learn's analyzers do (``word`` with its
``\\b\\w\\w+\\b`` tokens and stop words, ``char_wb``, ``char``), counts those in the block's
vocabulary, weights them as ``TfidfTransformer`` does (sublinear tf, idf, l2 norm, in float32),
and adds each feature's value times each theme's weight to that theme's decision value (float64).
:mod:`classify.model.engine` is its Python API; the fitted scikit-learn pipeline is the reference
implementation the tests hold it to.

Vocabulary lookups are exact. Each block's terms sit in an open-addressing table keyed by the
n-gram itself where it fits in 60 bits (at most 5 code points below 4095, each stored + 1: every
Latin or Cyrillic char n-gram of the default model) and otherwise by a 64-bit FNV-1a hash with
the top bit set, which a hit confirms by comparing code points. A hashed block (a fitted
``HashingVectorizer``) has no table: an n-gram's column is scikit-learn's, the signed 32-bit
MurmurHash3 of its UTF-8 bytes (seed 0), its absolute value modulo the block's width.

Speed comes from memory, not arithmetic: a paragraph's n-grams land all over tables of
megabytes. So the kernel computes the keys of a paragraph's n-grams (and words) first and
fetches their table slots ahead, then looks them up; remembers, per ``char_wb`` block, the
columns of the words it has seen (most words of a text are frequent ones); and keeps each
column's idf and weights in one 64-byte row, fetched ahead of the weighting.
"""

from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.math cimport logf, sqrt
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport qsort
from libc.string cimport memcpy, memset

cdef extern from *:
    void prefetch "__builtin_prefetch"(const void* address) nogil

cdef extern from "Python.h":
    int PyUnicode_KIND(object text)
    void* PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index) nogil
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch) nogil
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch) nogil

cdef enum Analyzer:
    WORD, CHAR_WB, CHAR

ANALYZERS = {"word": WORD, "char_wb": CHAR_WB, "char": CHAR}

cdef uint64_t FNV_OFFSET = 14695981039346656037ULL
cdef uint64_t FNV_PRIME = 1099511628211ULL
cdef uint64_t HASHED = 1ULL << 63  # marks a key that is a hash, not the n-gram itself
cdef uint64_t GOLDEN = 11400714819323198485ULL  # 2**64 / golden ratio: spreads keys over slots
cdef uint64_t LOW32 = 0xFFFFFFFFULL
cdef int PACKED_MAX = 5  # code points per packed key
cdef int PREFETCH = 32  # weight rows fetched ahead of use: their loads overlap
# char_wb blocks remember the n-gram columns of the words they have seen: most words of a text
# are frequent ones, and one exact lookup of the word replaces a lookup per n-gram
cdef Py_ssize_t MEMO_WORD_MAX = 24  # longer words are rare: looked up n-gram by n-gram
cdef Py_ssize_t MEMO_ENTRIES = 1 << 17  # words remembered before the memo starts over
# 1 + log(count) in float32 for the counts nearly every n-gram has (logf's own values)
cdef float SUBLINEAR[256]
for _count in range(1, 256):
    SUBLINEAR[_count] = logf(<float>_count) + 1.0
cdef uint32_t PACKED_LIMIT = 4095  # code points below this are packed (12 bits, stored + 1)


cdef struct Table:
    uint64_t* slots  # two words per slot: the key (0: empty) and the term's index
    uint64_t mask
    int shift
    const uint32_t* terms  # every term's code points, one after another
    const int64_t* offsets  # term j is terms[offsets[j]:offsets[j + 1]]


cdef struct Memo:
    uint64_t* slots  # two words per slot: the word's key (0: empty) and where its entry starts
    uint64_t mask
    int shift
    # entries one after another: the word's code points, how many columns, the columns
    uint32_t* arena
    Py_ssize_t used, size
    Py_ssize_t n_entries


cdef struct Key:
    uint64_t packed
    uint64_t hashed
    int length
    bint packable


cdef inline void key_start(Key* key) noexcept nogil:
    key.packed = 0
    key.hashed = FNV_OFFSET
    key.length = 0
    key.packable = True


cdef inline void key_extend(Key* key, uint32_t cp) noexcept nogil:
    if key.packable:
        if key.length < PACKED_MAX and cp < PACKED_LIMIT:
            key.packed |= (<uint64_t>(cp + 1)) << (12 * key.length)
        else:
            key.packable = False
    key.hashed = (key.hashed ^ cp) * FNV_PRIME
    key.length += 1


cdef inline uint64_t key_value(Key* key) noexcept nogil:
    """The n-gram itself, or its hash with the top bit set and its length (up to 255) in the
    low byte: a matching hashed key then only needs its code points compared."""
    if key.packable:
        return key.packed
    return (key.hashed & ~(<uint64_t>0xFF)) | HASHED | <uint64_t>min(key.length, 255)


cdef inline bint same(const uint32_t* a, const uint32_t* b, Py_ssize_t length) noexcept nogil:
    """Whether two code point sequences are equal (inline: they are a few code points long)."""
    cdef Py_ssize_t k
    for k in range(length):
        if a[k] != b[k]:
            return False
    return True


cdef inline int64_t lookup(Table* table, uint64_t key, const uint32_t* cps,
                          Py_ssize_t length) noexcept nogil:
    """The index of the term ``cps[:length]`` (whose key is ``key``), or -1."""
    cdef uint64_t slot = (key * GOLDEN) >> table.shift
    cdef uint64_t stored, value
    cdef int64_t term
    while True:
        stored = table.slots[2 * slot]
        if stored == 0:
            return -1
        if stored == key:
            value = table.slots[2 * slot + 1]  # the term's index, and where its code points start
            term = <int64_t>(value & LOW32)
            if not (key & HASHED):
                return term  # the key is the n-gram itself
            if same(table.terms + (value >> 32), cps, length) and (
                    (key & 0xFF) != 0xFF
                    or table.offsets[term + 1] - table.offsets[term] == length):
                return term
        slot = (slot + 1) & table.mask


cdef int table_build(Table* table, const uint32_t[::1] terms, const int64_t[::1] offsets) except -1:
    cdef Py_ssize_t count = offsets.shape[0] - 1, j, k
    cdef uint64_t size = 8, slot, value
    cdef int bits = 3
    cdef Key key
    while 3 * size < 4 * <uint64_t>count:  # at most three quarters full
        size *= 2
        bits += 1
    table.slots = <uint64_t*>PyMem_Malloc(2 * size * sizeof(uint64_t))
    if table.slots == NULL:
        raise MemoryError()
    memset(table.slots, 0, 2 * size * sizeof(uint64_t))
    table.mask = size - 1
    table.shift = 64 - bits
    table.terms = &terms[0] if terms.shape[0] else NULL
    table.offsets = &offsets[0]
    if <uint64_t>count >= LOW32 or <uint64_t>offsets[count] >= LOW32:
        raise ValueError("a vocabulary too large for the kernel (2**32 terms or code points)")
    for j in range(count):
        key_start(&key)
        for k in range(offsets[j], offsets[j + 1]):
            key_extend(&key, terms[k])
        value = key_value(&key)
        if value == 0:
            raise ValueError("an empty term in a vocabulary")
        slot = (value * GOLDEN) >> table.shift
        while table.slots[2 * slot] != 0:
            if table.slots[2 * slot] == value and not (value & HASHED):
                raise ValueError("a vocabulary holds a term twice")
            slot = (slot + 1) & table.mask
        table.slots[2 * slot] = value
        table.slots[2 * slot + 1] = <uint64_t>j | (<uint64_t>offsets[j] << 32)
    return 0


cdef struct Block:
    int analyzer
    int min_n
    int max_n
    bint sublinear
    bint has_stop_words
    Py_ssize_t first_column  # of the block in the union of all blocks
    Py_ssize_t n_columns
    int64_t n_hashed  # 0: a vocabulary block; else the width of a hashed block
    Table vocabulary
    Table stop_words
    Memo memo
    const double* idf
    int32_t* counts  # per column of the block, for the paragraph being scored
    int32_t* touched  # the block's columns the paragraph has, in the order first seen
    float* values
    Py_ssize_t n_touched


cdef class Kernel:
    """Decision values of paragraphs for fitted feature blocks and linear weights.

    ``blocks``: one dict per block with ``analyzer``, ``ngram_range``, ``sublinear_tf``, and the
    arrays ``terms`` (uint32 code points), ``offsets`` (int64), ``idf`` (float64), and for a word
    block ``stop_terms``/``stop_offsets`` (empty: no stop words). ``coef``: float64 weights,
    one row per column of the union of the blocks, one column per theme. ``float32_dot``: the
    weights are float32 values and scikit-learn sums the products in float32 (ridge, SGD), in
    column order; the kernel then does the same.
    """

    cdef Block* blocks
    cdef Py_ssize_t n_blocks
    # one row per column of the union: its idf, then its weight for every theme. Together, so
    # that a feature of a paragraph costs one cache line, not one for idf and one for weights.
    cdef double* rows
    cdef void* rows_memory  # rows starts at the first 64-byte boundary in it
    cdef Py_ssize_t width  # doubles per row: idf and weights, padded to whole cache lines
    cdef Py_ssize_t n_themes
    cdef bint float32_dot
    cdef float* sums32  # the float32 sums of one paragraph, one per theme
    cdef list _keep  # the arrays the blocks point into
    # scratch, grown as needed: a text's code points, one word or n-gram, token bounds
    cdef uint32_t* cps
    cdef Py_ssize_t cps_size
    cdef uint32_t* scratch
    cdef Py_ssize_t scratch_size
    cdef Py_ssize_t* tokens
    cdef Py_ssize_t tokens_size
    cdef uint64_t* gram_keys  # n-grams about to be looked up: keys, and start and length
    cdef Py_ssize_t* gram_spans
    cdef Py_ssize_t grams_size
    cdef uint64_t* word_keys  # the memo keys of a paragraph's words
    cdef Py_ssize_t words_size

    def __cinit__(self, list blocks, const double[:, ::1] coef, bint float32_dot=False):
        cdef Py_ssize_t b, columns = 0, n
        cdef Block* block
        self.n_blocks = 0
        self.blocks = <Block*>PyMem_Malloc(max(len(blocks), 1) * sizeof(Block))
        if self.blocks == NULL:
            raise MemoryError()
        memset(self.blocks, 0, max(len(blocks), 1) * sizeof(Block))
        self._keep = []
        self.n_themes = coef.shape[1]
        self.float32_dot = float32_dot
        self.sums32 = <float*>PyMem_Malloc(max(self.n_themes, 1) * sizeof(float))
        if self.sums32 == NULL:
            raise MemoryError()
        for b, spec in enumerate(blocks):
            block = &self.blocks[b]
            self.n_blocks = b + 1
            self._set_block(block, spec, columns)
            columns += block.n_columns
        if columns != coef.shape[0]:
            raise ValueError(f"the blocks have {columns} columns, the weights {coef.shape[0]}")
        self._set_rows(coef, columns)
        self._grow(&self.cps, &self.cps_size, 1024)
        self._grow(&self.scratch, &self.scratch_size, 256)
        self._grow_tokens(256)

    cdef int _set_rows(self, const double[:, ::1] coef, Py_ssize_t columns) except -1:
        cdef Py_ssize_t b, c, t, width = (self.n_themes + 1 + 7) // 8 * 8, row
        cdef Block* block
        self.width = width
        self.rows_memory = PyMem_Malloc(max(columns * width, 1) * sizeof(double) + 64)
        if self.rows_memory == NULL:
            raise MemoryError()
        self.rows = <double*>((<size_t>self.rows_memory + 63) & ~(<size_t>63))
        for b in range(self.n_blocks):
            block = &self.blocks[b]
            for c in range(block.n_columns):
                row = (block.first_column + c) * width
                self.rows[row] = block.idf[c]
                for t in range(self.n_themes):
                    self.rows[row + 1 + t] = coef[block.first_column + c, t]
        return 0

    cdef int _set_block(self, Block* block, dict spec, Py_ssize_t first_column) except -1:
        cdef const uint32_t[::1] terms = spec["terms"]
        cdef const int64_t[::1] offsets = spec["offsets"]
        cdef const double[::1] idf = spec["idf"]
        cdef const uint32_t[::1] stop_terms = spec["stop_terms"]
        cdef const int64_t[::1] stop_offsets = spec["stop_offsets"]
        cdef int64_t n_hashed = spec.get("n_features", 0)
        cdef Py_ssize_t n = n_hashed if n_hashed else offsets.shape[0] - 1
        if n_hashed and offsets.shape[0] != 1:
            raise ValueError("a hashed block has no vocabulary")
        if idf.shape[0] != n:
            raise ValueError("a block's idf does not fit its vocabulary")
        self._keep.extend([terms, offsets, idf, stop_terms, stop_offsets])
        block.analyzer = ANALYZERS[spec["analyzer"]]
        block.min_n, block.max_n = spec["ngram_range"]
        block.sublinear = spec["sublinear_tf"]
        block.first_column = first_column
        block.n_columns = n
        block.n_hashed = n_hashed
        block.idf = &idf[0] if n else NULL
        table_build(&block.vocabulary, terms, offsets)
        block.has_stop_words = stop_offsets.shape[0] > 1
        if block.has_stop_words:
            table_build(&block.stop_words, stop_terms, stop_offsets)
        if block.analyzer == CHAR_WB:
            memo_init(&block.memo)
        block.counts = <int32_t*>PyMem_Malloc(max(n, 1) * sizeof(int32_t))
        block.touched = <int32_t*>PyMem_Malloc(max(n, 1) * sizeof(int32_t))
        block.values = <float*>PyMem_Malloc(max(n, 1) * sizeof(float))
        if block.counts == NULL or block.touched == NULL or block.values == NULL:
            raise MemoryError()
        memset(block.counts, 0, max(n, 1) * sizeof(int32_t))
        return 0

    def __dealloc__(self):
        cdef Py_ssize_t b
        if self.blocks != NULL:
            for b in range(self.n_blocks):
                PyMem_Free(self.blocks[b].vocabulary.slots)
                PyMem_Free(self.blocks[b].stop_words.slots)
                memo_free(&self.blocks[b].memo)
                PyMem_Free(self.blocks[b].counts)
                PyMem_Free(self.blocks[b].touched)
                PyMem_Free(self.blocks[b].values)
            PyMem_Free(self.blocks)
        PyMem_Free(self.rows_memory)
        PyMem_Free(self.sums32)
        PyMem_Free(self.cps)
        PyMem_Free(self.scratch)
        PyMem_Free(self.tokens)
        PyMem_Free(self.gram_keys)
        PyMem_Free(self.word_keys)
        PyMem_Free(self.gram_spans)

    cdef int _grow(self, uint32_t** buffer, Py_ssize_t* size, Py_ssize_t needed) except -1:
        cdef uint32_t* grown
        if needed <= size[0]:
            return 0
        needed = max(needed, 2 * size[0])
        grown = <uint32_t*>PyMem_Realloc(buffer[0], needed * sizeof(uint32_t))
        if grown == NULL:
            raise MemoryError()
        buffer[0] = grown
        size[0] = needed
        return 0

    cdef int _grow_grams(self, Py_ssize_t needed) except -1:
        cdef void* keys
        cdef void* spans
        if needed <= self.grams_size:
            return 0
        needed = max(needed, 2 * self.grams_size, 256)
        keys = PyMem_Realloc(self.gram_keys, needed * sizeof(uint64_t))
        if keys == NULL:
            raise MemoryError()
        self.gram_keys = <uint64_t*>keys
        spans = PyMem_Realloc(self.gram_spans, 2 * needed * sizeof(Py_ssize_t))
        if spans == NULL:
            raise MemoryError()
        self.gram_spans = <Py_ssize_t*>spans
        self.grams_size = needed
        return 0

    cdef int _grow_words(self, Py_ssize_t needed) except -1:
        cdef void* keys
        if needed <= self.words_size:
            return 0
        needed = max(needed, 2 * self.words_size, 256)
        keys = PyMem_Realloc(self.word_keys, needed * sizeof(uint64_t))
        if keys == NULL:
            raise MemoryError()
        self.word_keys = <uint64_t*>keys
        self.words_size = needed
        return 0

    cdef int _grow_tokens(self, Py_ssize_t needed) except -1:
        cdef Py_ssize_t* grown
        if needed <= self.tokens_size:
            return 0
        needed = max(needed, 2 * self.tokens_size)
        grown = <Py_ssize_t*>PyMem_Realloc(self.tokens, 2 * needed * sizeof(Py_ssize_t))
        if grown == NULL:
            raise MemoryError()
        self.tokens = grown
        self.tokens_size = needed
        return 0

    def decision_values(self, list texts, double[:, ::1] out):
        """Write each text's decision values (without intercepts) into ``out``'s row.

        A text is a ``str``, or a tuple of ``str`` chunks whose n-grams are counted together.
        """
        cdef Py_ssize_t i, b, t
        if out.shape[0] != len(texts) or out.shape[1] != self.n_themes:
            raise ValueError("out has the wrong shape")
        for i in range(len(texts)):
            item = texts[i]
            if isinstance(item, str):
                self._count(item)
            else:
                for chunk in item:
                    self._count(chunk)
            for t in range(self.n_themes):
                out[i, t] = 0.0
                self.sums32[t] = 0.0
            for b in range(self.n_blocks):
                self._weigh(&self.blocks[b], &out[i, 0])
            if self.float32_dot:
                for t in range(self.n_themes):
                    out[i, t] = self.sums32[t]

    cdef int _count(self, str text) except -1:
        """Count ``text``'s n-grams in every block."""
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), k, b
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef Block* block
        self._grow(&self.cps, &self.cps_size, n + 2)
        for k in range(n):
            self.cps[k] = PyUnicode_READ(kind, data, k)
        for b in range(self.n_blocks):
            block = &self.blocks[b]
            if block.analyzer == WORD:
                self._count_words(block, n)
            elif block.analyzer == CHAR_WB:
                self._count_char_wb(block, n)
            else:
                self._count_chars(block, n)
        return 0

    cdef int _count_words(self, Block* block, Py_ssize_t n) except -1:
        """scikit-learn's ``word`` analyzer: tokens are the runs of word characters (letters,
        digits, ``_``) at least two long (``\\b\\w\\w+\\b``); stop words are dropped; each run of
        ``min_n`` to ``max_n`` tokens, joined by a space, is an n-gram."""
        cdef Py_ssize_t i = 0, j, ntokens = 0, a, m, k, start, length, grams, pos
        cdef uint32_t* cps = self.cps
        cdef Key key
        while i < n:
            if not is_word(cps[i]):
                i += 1
                continue
            j = i + 1
            while j < n and is_word(cps[j]):
                j += 1
            if j - i >= 2 and not (block.has_stop_words and self._is_stop_word(block, i, j)):
                self._grow_tokens(ntokens + 1)
                self.tokens[2 * ntokens] = i
                self.tokens[2 * ntokens + 1] = j
                ntokens += 1
            i = j
        # every n-gram's key first, its table slot fetched ahead; then the lookups, whose
        # loads have overlapped instead of waiting one after another
        grams = 0
        pos = 0
        for a in range(ntokens):
            key_start(&key)
            length = 0
            for m in range(block.max_n):
                if a + m >= ntokens:
                    break
                start = self.tokens[2 * (a + m)]
                self._grow(&self.scratch, &self.scratch_size,
                           pos + length + 1 + self.tokens[2 * (a + m) + 1] - start)
                if m:
                    self.scratch[pos + length] = 32  # the space that joins the tokens
                    key_extend(&key, 32)
                    length += 1
                for k in range(start, self.tokens[2 * (a + m) + 1]):
                    self.scratch[pos + length] = cps[k]
                    key_extend(&key, cps[k])
                    length += 1
                if m + 1 >= block.min_n:
                    self._grow_grams(grams + 1)
                    self.gram_keys[grams] = key_value(&key)
                    self.gram_spans[2 * grams] = pos
                    self.gram_spans[2 * grams + 1] = length
                    prefetch(&block.vocabulary.slots[
                        2 * ((self.gram_keys[grams] * GOLDEN) >> block.vocabulary.shift)])
                    grams += 1
            pos += length
        for k in range(grams):
            add_term(block, column_of(block, self.gram_keys[k],
                                   self.scratch + self.gram_spans[2 * k], self.gram_spans[2 * k + 1]))
        return 0

    cdef bint _is_stop_word(self, Block* block, Py_ssize_t start, Py_ssize_t end) noexcept:
        cdef Key key
        cdef Py_ssize_t k
        key_start(&key)
        for k in range(start, end):
            key_extend(&key, self.cps[k])
        return lookup(&block.stop_words, key_value(&key), self.cps + start, end - start) >= 0

    cdef int _count_char_wb(self, Block* block, Py_ssize_t n) except -1:
        """scikit-learn's ``char_wb`` analyzer: each whitespace-separated word, padded with a
        space on both sides, gives its n-grams of ``min_n`` to ``max_n`` characters; a padded
        word shorter than ``min_n`` counts once, whole."""
        cdef Py_ssize_t i = 0, start, words = 0, w
        cdef uint64_t slot
        cdef Memo* memo = &block.memo
        # every word's memo key first, its memo slot fetched ahead; then the words
        while i < n:
            if Py_UNICODE_ISSPACE(self.cps[i]):
                i += 1
                continue
            start = i
            while i < n and not Py_UNICODE_ISSPACE(self.cps[i]):
                i += 1
            self._grow_tokens(words + 1)
            self.tokens[2 * words] = start
            self.tokens[2 * words + 1] = i
            self._grow_words(words + 1)
            self.word_keys[words] = 0  # no key: a word the memo does not take
            if memo.slots != NULL and i - start <= MEMO_WORD_MAX:
                self.word_keys[words] = word_hash(self.cps + start, i - start)
                prefetch(&memo.slots[2 * ((self.word_keys[words] * GOLDEN) >> memo.shift)])
            words += 1
        for w in range(words):
            if w + 2 < words and memo.slots != NULL:  # the memo entry of a word two ahead
                slot = (self.word_keys[w + 2] * GOLDEN) >> memo.shift
                if memo.slots[2 * slot] == self.word_keys[w + 2]:
                    prefetch(memo.arena + memo.slots[2 * slot + 1])
            self._count_char_wb_word(
                block, self.tokens[2 * w], self.tokens[2 * w + 1], self.word_keys[w]
            )
        return 0

    cdef int _count_char_wb_word(
        self, Block* block, Py_ssize_t start, Py_ssize_t end, uint64_t word_key
    ) except -1:
        """The n-grams of the word ``cps[start:end]`` (memo key ``word_key``): from the memo,
        or looked up (and then remembered)."""
        cdef Py_ssize_t length = end - start + 2, s, m, top, k, entry = -1, found = 0, grams = 0
        cdef uint32_t* word
        cdef uint32_t* columns = NULL
        cdef int64_t term
        cdef Key key
        cdef Memo* memo = &block.memo
        cdef bint remember = memo.slots != NULL and end - start <= MEMO_WORD_MAX
        if remember:
            entry = memo_find(memo, word_key, self.cps + start, end - start)
            if entry >= 0:  # the column count, then the columns
                columns = memo.arena + entry + 1
                for k in range(memo.arena[entry]):
                    add_term(block, columns[k])
                return 0
            if memo.n_entries == MEMO_ENTRIES:
                memo_clear(memo)
            memo_reserve(memo, end - start + 1 + length * (block.max_n - block.min_n + 1))
            columns = memo.arena + memo.used + (end - start) + 1
        self._grow(&self.scratch, &self.scratch_size, length)
        word = self.scratch
        word[0] = 32
        for k in range(start, end):
            word[k - start + 1] = self.cps[k]
        word[length - 1] = 32
        if length < block.min_n:
            key_start(&key)
            for k in range(length):
                key_extend(&key, word[k])
            term = column_of(block, key_value(&key), word, length)
            add_term(block, term)
            if remember and term >= 0:
                columns[found] = <uint32_t>term
                found += 1
        else:  # every n-gram's key first, its slot fetched ahead; then the lookups
            top = min(block.max_n, length)
            self._grow_grams(length * (block.max_n - block.min_n + 1))
            for s in range(length - block.min_n + 1):
                key_start(&key)
                for m in range(top):
                    if s + m >= length:
                        break
                    key_extend(&key, word[s + m])
                    if m + 1 >= block.min_n:
                        self.gram_keys[grams] = key_value(&key)
                        self.gram_spans[2 * grams] = s
                        self.gram_spans[2 * grams + 1] = m + 1
                        prefetch(&block.vocabulary.slots[
                            2 * ((self.gram_keys[grams] * GOLDEN) >> block.vocabulary.shift)])
                        grams += 1
            for k in range(grams):
                term = column_of(block, self.gram_keys[k], word + self.gram_spans[2 * k],
                              self.gram_spans[2 * k + 1])
                add_term(block, term)
                if remember and term >= 0:
                    columns[found] = <uint32_t>term
                    found += 1
        if remember:
            memo_add(memo, word_key, self.cps + start, end - start, found)
        return 0

    cdef int _count_chars(self, Block* block, Py_ssize_t n) except -1:
        """scikit-learn's ``char`` analyzer: runs of two or more whitespace characters become
        one space (a single one stays as it is), then every substring of ``min_n`` to ``max_n``
        characters is an n-gram."""
        cdef Py_ssize_t i = 0, j, length = 0, s, m
        cdef uint32_t* text
        cdef Key key
        self._grow(&self.scratch, &self.scratch_size, n + 1)
        text = self.scratch
        while i < n:
            if Py_UNICODE_ISSPACE(self.cps[i]):
                j = i + 1
                while j < n and Py_UNICODE_ISSPACE(self.cps[j]):
                    j += 1
                text[length] = self.cps[i] if j == i + 1 else 32
                length += 1
                i = j
            else:
                text[length] = self.cps[i]
                length += 1
                i += 1
        for s in range(length):
            key_start(&key)
            for m in range(block.max_n):
                if s + m >= length:
                    break
                key_extend(&key, text[s + m])
                if m + 1 >= block.min_n:
                    add_term(block, column_of(block, key_value(&key), text + s,
                                            m + 1))
        return 0

    cdef void _tfidf(self, Block* block) noexcept:
        """TfidfTransformer's weighting of the counted columns (sublinear tf, idf, l2 norm, all
        in float32 like the fitted vectorizer) into ``block.values``, in the order of
        ``block.touched`` (column order for a float32 model); the counts are cleared."""
        cdef Py_ssize_t k, n = block.n_touched, width = self.width
        cdef int32_t count
        cdef float tf, value
        cdef double total = 0.0, norm
        cdef const double* rows = self.rows + block.first_column * width
        cdef int32_t* touched = block.touched
        cdef int32_t* counts = block.counts
        cdef float* values = block.values
        if self.float32_dot:  # scipy adds the products in float32, in column order
            qsort(touched, n, sizeof(int32_t), compare_columns)
        for k in range(n):
            if k + PREFETCH < n:
                prefetch(rows + touched[k + PREFETCH] * width)
            count = counts[touched[k]]
            counts[touched[k]] = 0
            if not block.sublinear:
                tf = <float>count
            elif count < 256:
                tf = SUBLINEAR[count]
            else:
                tf = logf(<float>count) + 1.0
            value = <float>(<double>tf * rows[touched[k] * width])  # times idf
            values[k] = value
            total += <double>(<float>(<double>value * value))
        if total != 0.0:
            norm = sqrt(total)
            for k in range(n):
                values[k] = <float>(<double>values[k] / norm)

    cdef void _weigh(self, Block* block, double* out) noexcept:
        """The block's feature values (:meth:`_tfidf`) times the weights, added to ``out`` (or
        to the float32 sums); then the block is ready for the next paragraph."""
        cdef Py_ssize_t k, t, width = self.width, themes = self.n_themes
        cdef float value
        cdef const double* row
        cdef const double* rows = self.rows + block.first_column * width
        cdef float* sums32 = self.sums32
        self._tfidf(block)
        for k in range(block.n_touched):
            value = block.values[k]
            row = rows + block.touched[k] * width + 1
            if self.float32_dot:
                for t in range(themes):
                    sums32[t] = sums32[t] + value * <float>row[t]
            else:
                for t in range(themes):
                    out[t] += <double>value * row[t]
        block.n_touched = 0

    def features(self, item):
        """The TF-IDF features of one text (a ``str`` or a tuple of chunks, as in
        :meth:`decision_values`): per block, a list of ``(column, value)`` pairs, ``column`` in
        the union of the blocks and ``value`` the float32 value the scores are computed from."""
        cdef Py_ssize_t b, k
        cdef Block* block
        if isinstance(item, str):
            self._count(item)
        else:
            for chunk in item:
                self._count(chunk)
        found = []
        for b in range(self.n_blocks):
            block = &self.blocks[b]
            self._tfidf(block)
            found.append([(block.first_column + block.touched[k], block.values[k])
                          for k in range(block.n_touched)])
            block.n_touched = 0
        return found


cdef inline int64_t column_of(Block* block, uint64_t key, const uint32_t* cps,
                              Py_ssize_t length) noexcept nogil:
    """The block's column of the n-gram ``cps[:length]`` (key ``key``), or -1."""
    if block.n_hashed:
        return hashed_column(cps, length, block.n_hashed)
    return lookup(&block.vocabulary, key, cps, length)


cdef struct Murmur:  # MurmurHash3 (x86, 32-bit) fed one byte at a time
    uint32_t h
    uint32_t pending  # the bytes of a block not yet complete, little-endian
    int n_pending
    uint32_t length


cdef inline uint32_t rotl32(uint32_t x, int r) noexcept nogil:
    return (x << r) | (x >> (32 - r))


cdef inline uint32_t murmur_mix(uint32_t k) noexcept nogil:
    k = k * <uint32_t>0xcc9e2d51
    return rotl32(k, 15) * <uint32_t>0x1b873593


cdef inline void murmur_byte(Murmur* m, uint32_t byte) noexcept nogil:
    m.pending |= byte << (8 * m.n_pending)
    m.n_pending += 1
    m.length += 1
    if m.n_pending == 4:
        m.h ^= murmur_mix(m.pending)
        m.h = rotl32(m.h, 13) * 5 + <uint32_t>0xe6546b64
        m.pending = 0
        m.n_pending = 0


cdef inline int64_t hashed_column(const uint32_t* cps, Py_ssize_t length,
                                  int64_t width) noexcept nogil:
    """HashingVectorizer's column of an n-gram: |murmurhash3_32(utf-8 bytes, seed 0)| mod width
    (the hash read as a signed 32-bit number)."""
    cdef Murmur m
    cdef Py_ssize_t k
    cdef uint32_t cp, h
    cdef int64_t signed
    m.h = 0
    m.pending = 0
    m.n_pending = 0
    m.length = 0
    for k in range(length):
        cp = cps[k]
        if cp < 0x80:
            murmur_byte(&m, cp)
        elif cp < 0x800:
            murmur_byte(&m, 0xC0 | (cp >> 6))
            murmur_byte(&m, 0x80 | (cp & 0x3F))
        elif cp < 0x10000:
            murmur_byte(&m, 0xE0 | (cp >> 12))
            murmur_byte(&m, 0x80 | ((cp >> 6) & 0x3F))
            murmur_byte(&m, 0x80 | (cp & 0x3F))
        else:
            murmur_byte(&m, 0xF0 | (cp >> 18))
            murmur_byte(&m, 0x80 | ((cp >> 12) & 0x3F))
            murmur_byte(&m, 0x80 | ((cp >> 6) & 0x3F))
            murmur_byte(&m, 0x80 | (cp & 0x3F))
    h = m.h
    if m.n_pending:
        h ^= murmur_mix(m.pending)
    h ^= m.length
    h ^= h >> 16
    h = h * <uint32_t>0x85ebca6b
    h ^= h >> 13
    h = h * <uint32_t>0xc2b2ae35
    h ^= h >> 16
    signed = <int64_t>(<int32_t>h)
    return (-signed if signed < 0 else signed) % width


cdef int compare_columns(const void* a, const void* b) noexcept nogil:
    return (<const int32_t*>a)[0] - (<const int32_t*>b)[0]


cdef inline void add_term(Block* block, int64_t term) noexcept nogil:
    """Count one occurrence of a term (-1: not in the vocabulary)."""
    if term < 0:
        return
    if block.counts[term] == 0:
        block.touched[block.n_touched] = <int32_t>term
        block.n_touched += 1
    block.counts[term] += 1


cdef inline bint is_word(uint32_t cp) noexcept nogil:
    """``\\w`` of Python's ``re`` on str: alphanumeric (by Unicode) or ``_``."""
    if cp < 128:
        return (48 <= cp <= 57) or (65 <= cp <= 90) or (97 <= cp <= 122) or cp == 95
    return Py_UNICODE_ISALNUM(cp)


cdef inline uint64_t word_hash(const uint32_t* cps, Py_ssize_t length) noexcept nogil:
    """A memo key: the word's hash, top bit set (never 0, the mark of an empty slot), length in
    the low byte (memo words are shorter than 256)."""
    cdef uint64_t h = FNV_OFFSET
    cdef Py_ssize_t k
    for k in range(length):
        h = (h ^ cps[k]) * FNV_PRIME
    return (h & ~(<uint64_t>0xFF)) | HASHED | <uint64_t>length


cdef int memo_init(Memo* memo) except -1:
    cdef uint64_t size = 2 * <uint64_t>MEMO_ENTRIES
    # zeroed by calloc: the system maps zero pages as they are first touched, so a model loads
    # without writing megabytes of empty slots
    memo.slots = <uint64_t*>PyMem_Calloc(2 * size, sizeof(uint64_t))
    if memo.slots == NULL:
        raise MemoryError()
    memo.mask = size - 1
    memo.shift = 64
    while size > 1:
        size //= 2
        memo.shift -= 1
    memo.n_entries = 0
    memo.used = 0
    return 0


cdef void memo_clear(Memo* memo) noexcept nogil:
    memset(memo.slots, 0, 2 * (memo.mask + 1) * sizeof(uint64_t))
    memo.n_entries = 0
    memo.used = 0


cdef void memo_free(Memo* memo) noexcept:
    PyMem_Free(memo.slots)
    PyMem_Free(memo.arena)


cdef int memo_reserve(Memo* memo, Py_ssize_t needed) except -1:
    """Room for ``needed`` more values in the arena."""
    cdef Py_ssize_t size
    cdef void* grown
    if memo.used + needed > memo.size:
        size = max(2 * memo.size, memo.used + needed, 65536)
        grown = PyMem_Realloc(memo.arena, size * sizeof(uint32_t))
        if grown == NULL:
            raise MemoryError()
        memo.arena, memo.size = <uint32_t*>grown, size
    return 0


cdef inline Py_ssize_t memo_find(Memo* memo, uint64_t key, const uint32_t* cps,
                                 Py_ssize_t length) noexcept nogil:
    """Where the remembered word's column count is in the arena, or -1."""
    cdef uint64_t slot = (key * GOLDEN) >> memo.shift
    cdef Py_ssize_t entry
    while memo.slots[2 * slot] != 0:
        if memo.slots[2 * slot] == key:
            entry = <Py_ssize_t>memo.slots[2 * slot + 1]
            if same(memo.arena + entry, cps, length):
                return entry + length
        slot = (slot + 1) & memo.mask
    return -1


cdef void memo_add(Memo* memo, uint64_t key, const uint32_t* cps, Py_ssize_t length,
                   Py_ssize_t n_columns) noexcept nogil:
    """Remember a word whose ``n_columns`` columns were written after its place in the arena."""
    cdef uint64_t slot = (key * GOLDEN) >> memo.shift
    memcpy(memo.arena + memo.used, cps, length * sizeof(uint32_t))
    memo.arena[memo.used + length] = <uint32_t>n_columns
    while memo.slots[2 * slot] != 0:
        slot = (slot + 1) & memo.mask
    memo.slots[2 * slot] = key
    memo.slots[2 * slot + 1] = <uint64_t>memo.used
    memo.used += length + 1 + n_columns
    memo.n_entries += 1
