/* embed_wordnet — the WordNet embedder (see embed_wordnet.h). A word becomes a small list
 * of weighted features, computed once and cached:
 *   - known to WordNet (lemmatised with WordNet's morphy in each part of speech): its
 *     first SENSES_MAX senses per lemma, sense r weighing 1/(1+r); each sense's hypernyms up to
 *     HYPER_LEVELS steps up, halving per step; its derivationally related forms, similar
 *     adjectives, pertainyms and attributes at half its weight; and the lemma itself;
 *   - unknown (names, identifiers, typos, numbers): the word and its character trigrams.
 * Each word's list is scaled to unit length, then by the word's weight: 1 for an unknown
 * word, less for a word WordNet's sense-tagged corpus saw in many senses (common words such
 * as "make" or "get" carry little meaning of their own). A fixed stop-word list drops
 * function words first. Weights do not depend on the stored memories, so a vector never
 * changes once stored. The text's vector is the sum of its words' lists hashed into dims
 * signed dimensions, L2-normalised.
 *
 * The library (wninit) finds and opens the database files and parses index entries
 * (parse_index); the searches run here over the files mapped into memory, because the
 * library's own look-ups seek and re-read the files many times per word (see morphy and
 * add_synset below). The library keeps its state in globals, so every call into it, the
 * loading and the cache are under one mutex. */
#include "common/embed_wordnet.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/embed.h"

/* wn.h declares its functions without prototypes (K&R style). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wredundant-decls"
#include <wn.h>
#pragma GCC diagnostic pop

#define SENSES_MAX 4   /* senses per lemma and part of speech */
#define LEMMAS_MAX 3   /* base forms per part of speech */
#define HYPER_LEVELS 2 /* hypernym steps above a sense */
#define W_STEP 0.5f    /* a hypernym weighs this much of the sense below it */
#define W_RELATED 0.5f /* derivation, similar-to, pertainym, attribute */
#define W_LEMMA 0.7f   /* the lemma itself, beside its senses */
#define W_TRIGRAM 0.3f /* an unknown word's trigram, beside the word's 1.0 */
#define FEATS_MAX 256  /* features kept per word */
/* Cached words; the cache is emptied when it fills (words are cheap to look up again). */
#define CACHE_SLOTS 65536
#define CACHE_FILL (CACHE_SLOTS / 2)

/* Function words dropped before any look-up: WordNet knows many of them ("be", "have",
 * "will", "can" as nouns and verbs) and they carry no topic. */
static const char *const stop_words[] = {
    "a",        "about", "above",   "after",     "again",  "against",  "all",
    "also",     "am",    "an",      "and",       "any",    "are",      "as",
    "at",       "be",    "been",    "before",    "being",  "below",    "between",
    "both",     "but",   "by",      "can",       "could",  "did",      "do",
    "does",     "doing", "down",    "during",    "each",   "either",   "else",
    "ever",     "every", "few",     "for",       "from",   "further",  "had",
    "has",      "have",  "having",  "he",        "her",    "here",     "hers",
    "herself",  "him",   "himself", "his",       "how",    "i",        "if",
    "in",       "into",  "is",      "it",        "its",    "itself",   "just",
    "let",      "may",   "me",      "might",     "more",   "most",     "much",
    "must",     "my",    "myself",  "no",        "nor",    "not",      "now",
    "of",       "off",   "on",      "once",      "only",   "or",       "other",
    "ought",    "our",   "ours",    "ourselves", "out",    "over",     "own",
    "same",     "shall", "she",     "should",    "so",     "some",     "such",
    "than",     "that",  "the",     "their",     "theirs", "them",     "themselves",
    "then",     "there", "these",   "they",      "this",   "those",    "through",
    "thus",     "to",    "too",     "under",     "until",  "up",       "upon",
    "us",       "very",  "via",     "was",       "we",     "were",     "what",
    "whatever", "when",  "where",   "whether",   "which",  "while",    "who",
    "whom",     "whose", "why",     "will",      "with",   "within",   "without",
    "would",    "yet",   "you",     "your",      "yours",  "yourself", "yourselves",
};

struct feat {
    uint64_t h;
    float w;
};

/* One word's features while they are gathered. */
struct word_feats {
    struct feat f[FEATS_MAX];
    int n;
    int tagged; /* sense-tagged senses over every lemma and part of speech */
};

struct cache_entry {
    char *word; /* NULL: free slot */
    struct feat *f;
    int n;
};

static pthread_mutex_t wn_mu = PTHREAD_MUTEX_INITIALIZER;
static int wn_state; /* 0 not tried, 1 open, -1 cannot open */
static struct cache_entry *cache;
static size_t cache_used;

static bool is_stop_word(const char *w)
{
    for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++)
        if (strcmp(w, stop_words[i]) == 0)
            return true;
    return false;
}

/* Keeps the larger weight when a feature is reached twice (two senses, two paths): a
 * shared hypernym should not outweigh the word's own senses. */
static void feat_add(struct word_feats *wf, uint64_t h, float w)
{
    for (int i = 0; i < wf->n; i++)
        if (wf->f[i].h == h) {
            if (w > wf->f[i].w)
                wf->f[i].w = w;
            return;
        }
    if (wf->n < FEATS_MAX)
        wf->f[wf->n++] = (struct feat){h, w};
}

static int norm_pos(int pos) { return pos == SATELLITE ? ADJ : pos; }

/* WordNet's morphology ("morphy", the library's morphstr for one word): an inflected form's
 * base forms come from the part of speech's exception list (geese → goose, sat → sit), else
 * from the first detachment rule whose result WordNet lists. morphstr itself checks each
 * candidate with is_defined, which reads every sense of it from the data file, and reads the
 * exception files through seeks: about 3 ms a word, so the same algorithm runs here over the
 * exception lists loaded once and the in-memory index. */
struct rule {
    const char *suffix, *ending;
};
static const struct rule noun_rules[] = {{"s", ""},      {"ses", "s"},   {"xes", "x"},
                                         {"zes", "z"},   {"ches", "ch"}, {"shes", "sh"},
                                         {"men", "man"}, {"ies", "y"},   {NULL, NULL}};
static const struct rule verb_rules[] = {{"s", ""},    {"ies", "y"}, {"es", "e"},
                                         {"es", ""},   {"ed", "e"},  {"ed", ""},
                                         {"ing", "e"}, {"ing", ""},  {NULL, NULL}};
static const struct rule adj_rules[] = {
    {"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}, {NULL, NULL}};

/* A sorted text file in memory (mapped): where each line starts, for a binary search by a
 * line's first word without the library's seeks. The index files ("lemma pos …", sorted by
 * lemma) and the exception lists ("inflected base…", sorted by the inflected form). */
struct line_table {
    const char *text; /* the mapped file, every line ending in '\n' */
    uint32_t *lines;
    size_t n;
};
static struct line_table indexes[ADV + 1], exc[ADV + 1];

static int table_load(struct line_table *t, const char *text, size_t size)
{
    size_t n = 0;
    for (const char *c = text; (c = memchr(c, '\n', size - (size_t)(c - text))); c++)
        n++;
    if (size >= UINT32_MAX || !(t->lines = malloc(sizeof(*t->lines) * (n + 1))))
        return -1;
    t->text = text;
    for (size_t i = 0; i < size;) {
        const char *nl = memchr(text + i, '\n', size - i);
        if (!nl)
            break;
        if (text[i] != ' ') /* the index files' licence at the top starts with spaces */
            t->lines[t->n++] = (uint32_t)i;
        i = (size_t)(nl - text) + 1;
    }
    return 0;
}

/* The line of t whose first word is word (len bytes), or NULL. */
static const char *table_find(const struct line_table *t, const char *word, size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *line = t->text + t->lines[mid];
        int c = strncmp(line, word, len);
        if (c == 0 && line[len] != ' ')
            c = 1; /* the line's first word is longer */
        if (c == 0)
            return line;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const char *index_find(int pos, const char *word)
{
    return table_find(&indexes[pos], word, strlen(word));
}

/* index_lookup over the index in memory: the parsed entry (free_index), or NULL. */
static IndexPtr index_get(char *word, int pos)
{
    const char *line = index_find(pos, word);
    if (!line)
        return NULL;
    size_t len = strcspn(line, "\n");
    char *copy = malloc(len + 2);
    if (!copy)
        return NULL;
    memcpy(copy, line, len);
    copy[len] = '\n';
    copy[len + 1] = '\0';
    IndexPtr idx = parse_index((long)(line - indexes[pos].text), pos, copy);
    free(copy);
    return idx;
}

static bool in_index(char *word, int pos) { return index_find(pos, word) != NULL; }

/* Appends lemma to lemmas (n of them) unless it is there or too long; returns the count. */
static int lemma_add(char lemmas[][EMBED_TOKEN_MAX + 1], int n, const char *lemma, size_t len)
{
    if (n >= LEMMAS_MAX || len > EMBED_TOKEN_MAX)
        return n;
    for (int i = 0; i < n; i++)
        if (strlen(lemmas[i]) == len && memcmp(lemmas[i], lemma, len) == 0)
            return n;
    memcpy(lemmas[n], lemma, len);
    lemmas[n][len] = '\0';
    return n + 1;
}

/* The lemmas of word in pos that WordNet lists: the word itself, and its base forms. */
static int lemmas_of(const char *word, size_t len, int pos, char lemmas[][EMBED_TOKEN_MAX + 1])
{
    char buf[EMBED_TOKEN_MAX + 8];
    int n = 0;
    memcpy(buf, word, len + 1);
    if (in_index(buf, pos))
        n = lemma_add(lemmas, n, word, len);
    const char *line = table_find(&exc[pos], word, len);
    if (line) {
        for (const char *b = line + len; *b == ' ';) {
            const char *e = ++b;
            while (*e != ' ' && *e != '\n')
                e++;
            if (e > b && (size_t)(e - b) <= EMBED_TOKEN_MAX) {
                memcpy(buf, b, (size_t)(e - b));
                buf[e - b] = '\0';
                if (in_index(buf, pos))
                    n = lemma_add(lemmas, n, buf, (size_t)(e - b));
            }
            b = e;
        }
        return n;
    }
    const struct rule *rules = pos == NOUN   ? noun_rules
                               : pos == VERB ? verb_rules
                               : pos == ADJ  ? adj_rules
                                             : NULL;
    if (!rules || (pos == NOUN && (len <= 2 || (len >= 2 && memcmp(word + len - 2, "ss", 2) == 0))))
        return n;
    for (const struct rule *r = rules; r->suffix; r++) {
        size_t sl = strlen(r->suffix), el = strlen(r->ending);
        if (len <= sl || memcmp(word + len - sl, r->suffix, sl) != 0)
            continue;
        memcpy(buf, word, len - sl);
        memcpy(buf + len - sl, r->ending, el + 1);
        if (in_index(buf, pos))
            return lemma_add(lemmas, n, buf, len - sl + el);
    }
    return n;
}

static uint64_t synset_hash(int pos, long offset)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "%d:%ld", norm_pos(pos), offset);
    return embed_feature_hash('s', key, (size_t)n);
}

/* The data files in memory (mapped by open_locked). */
static const char *data_text[ADV + 1];
static size_t data_size[ADV + 1];

static int pos_of(char c)
{
    return c == 'n' ? NOUN : c == 'v' ? VERB : c == 'a' || c == 's' ? ADJ : c == 'r' ? ADV : 0;
}

/* Whether the data file's word token [t, e) is lemma: case aside, and without an
 * adjective's syntactic marker ("(a)", "(p)", "(ip)"). */
static bool word_is(const char *t, const char *e, const char *lemma)
{
    const char *paren = memchr(t, '(', (size_t)(e - t));
    if (paren)
        e = paren;
    size_t n = (size_t)(e - t);
    if (strlen(lemma) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i] >= 'A' && t[i] <= 'Z' ? (char)(t[i] - 'A' + 'a') : t[i];
        if (c != lemma[i])
            return false;
    }
    return true;
}

/* Adds synset (pos, offset) at weight w and, reading its line in the data file, its
 * hypernyms up to levels steps; word (a lemma, or NULL above the first level) also adds the
 * synset's lexical and semantic relations that start from that word. The line is parsed here
 * rather than by the library's read_synset, which looks every word of the synset up in the
 * index (for sense numbers this does not use) and costs a few hundred microseconds a synset.
 * Its layout (wndb(5)): offset lex_filenum ss_type w_cnt(hex) {word lex_id}… p_cnt(decimal)
 * {symbol offset pos source/target(hex)}… … | gloss. */
static void add_synset(struct word_feats *wf, int pos, long offset, float w, const char *word,
                       int levels)
{
    feat_add(wf, synset_hash(pos, offset), w);
    pos = norm_pos(pos);
    if ((levels == 0 && !word) || pos < NOUN || pos > ADV || offset < 0 ||
        (size_t)offset >= data_size[pos])
        return;
    const char *p = data_text[pos] + offset,
               *end = memchr(p, '\n', data_size[pos] - (size_t)offset);
    char *q;
    if (!end)
        return;
    strtol(p, &q, 10); /* offset */
    strtol(q, &q, 10); /* lex_filenum */
    while (*q == ' ')
        q++;
    q++; /* ss_type */
    long nwords = strtol(q, &q, 16), which = 0;
    for (long i = 0; i < nwords && q < end; i++) {
        while (*q == ' ')
            q++;
        const char *t = q;
        while (q < end && *q != ' ')
            q++;
        if (word && !which && word_is(t, q, word))
            which = i + 1;
        strtol(q, &q, 16); /* lex_id */
    }
    long nptrs = strtol(q, &q, 10);
    for (long i = 0; i < nptrs && q < end; i++) {
        while (*q == ' ')
            q++;
        const char *sym = q;
        while (q < end && *q != ' ')
            q++;
        size_t symlen = (size_t)(q - sym);
        long toff = strtol(q, &q, 10);
        while (*q == ' ')
            q++;
        int tpos = pos_of(*q++);
        long st = strtol(q, &q, 16);
        /* a lexical pointer (source != 0) belongs to one word of the synset */
        bool from_word = (st >> 8) == 0 || (st >> 8) == which;
        bool hyper = sym[0] == '@' && (symlen == 1 || (symlen == 2 && sym[1] == 'i'));
        bool related = symlen == 1 && strchr("+&\\=", sym[0]);
        if (!tpos)
            continue;
        if (hyper && levels > 0)
            add_synset(wf, tpos, toff, w * W_STEP, NULL, levels - 1);
        else if (word && from_word && related)
            feat_add(wf, synset_hash(tpos, toff), w * W_RELATED);
    }
}

/* Adds lemma's senses in pos; returns whether WordNet knows it. */
static bool add_lemma(struct word_feats *wf, char *lemma, int pos)
{
    IndexPtr idx = index_get(lemma, pos);
    if (!idx)
        return false;
    wf->tagged += idx->tagged_cnt;
    for (int r = 0; r < idx->off_cnt && r < SENSES_MAX; r++)
        add_synset(wf, pos, (long)idx->offset[r], 1.0f / (float)(1 + r), lemma, HYPER_LEVELS);
    free_index(idx);
    return true;
}

static bool wordnet_candidate(const char *word, size_t len)
{
    bool letter = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c >= 0x80)
            return false;
        letter |= c >= 'a' && c <= 'z';
    }
    return letter && len > 1;
}

/* Fills wf with word's features (see the top of the file), unit length times the word's
 * weight. Under wn_mu. */
static void word_features(const char *word, size_t len, struct word_feats *wf)
{
    char lemmas[LEMMAS_MAX][EMBED_TOKEN_MAX + 1];
    bool known = false;
    wf->n = wf->tagged = 0;
    if (wn_state == 1 && wordnet_candidate(word, len)) {
        for (int pos = NOUN; pos <= ADV; pos++) {
            int nl = lemmas_of(word, len, pos, lemmas);
            for (int i = 0; i < nl; i++)
                if (add_lemma(wf, lemmas[i], pos)) {
                    if (!known)
                        feat_add(wf, embed_feature_hash('w', lemmas[i], strlen(lemmas[i])),
                                 W_LEMMA);
                    known = true;
                }
        }
    }
    float weight = 1.0f;
    if (known) {
        weight = 1.0f / (1.0f + 0.5f * logf(1.0f + (float)wf->tagged));
    } else {
        char padded[EMBED_TOKEN_MAX + 3];
        feat_add(wf, embed_feature_hash('w', word, len), 1.0f);
        padded[0] = '^';
        memcpy(padded + 1, word, len);
        padded[len + 1] = '$';
        for (size_t i = 0; i + 3 <= len + 2; i++)
            feat_add(wf, embed_feature_hash('t', padded + i, 3), W_TRIGRAM);
    }
    double sq = 0;
    for (int i = 0; i < wf->n; i++)
        sq += (double)wf->f[i].w * wf->f[i].w;
    float scale = sq > 0 ? weight / (float)sqrt(sq) : 0;
    for (int i = 0; i < wf->n; i++)
        wf->f[i].w *= scale;
}

static void cache_clear(void)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(cache[i].word);
        free(cache[i].f);
        cache[i] = (struct cache_entry){NULL, NULL, 0};
    }
    cache_used = 0;
}

/* The cached features of word, computing and caching them when absent; NULL when memory
 * ran out (then scratch holds them). Under wn_mu. */
static const struct cache_entry *word_lookup(const char *word, size_t len,
                                             struct word_feats *scratch, struct cache_entry *tmp)
{
    if (!cache)
        cache = calloc(CACHE_SLOTS, sizeof(*cache));
    size_t slot = 0;
    if (cache) {
        slot = embed_feature_hash('c', word, len) & (CACHE_SLOTS - 1);
        while (cache[slot].word) {
            if (strcmp(cache[slot].word, word) == 0)
                return &cache[slot];
            slot = (slot + 1) & (CACHE_SLOTS - 1);
        }
    }
    word_features(word, len, scratch);
    *tmp = (struct cache_entry){NULL, scratch->f, scratch->n};
    if (!cache)
        return tmp;
    if (cache_used >= CACHE_FILL) {
        cache_clear();
        slot = embed_feature_hash('c', word, len) & (CACHE_SLOTS - 1);
    }
    struct feat *f = malloc(sizeof(*f) * (size_t)(scratch->n ? scratch->n : 1));
    char *w = strdup(word);
    if (!f || !w) {
        free(f);
        free(w);
        return tmp;
    }
    memcpy(f, scratch->f, sizeof(*f) * (size_t)scratch->n);
    cache[slot] = (struct cache_entry){w, f, scratch->n};
    cache_used++;
    return &cache[slot];
}

struct embed_ctx {
    float *out;
    int dims;
    struct word_feats scratch;
};

static void embed_word(const char *word, size_t len, void *arg)
{
    struct embed_ctx *c = arg;
    if (is_stop_word(word))
        return;
    struct cache_entry tmp;
    const struct cache_entry *e = word_lookup(word, len, &c->scratch, &tmp);
    for (int i = 0; i < e->n; i++)
        embed_add_feature(c->out, c->dims, e->f[i].h, e->f[i].w);
}

/* Maps the database file the library opened as fp into memory (text, size), shared with
 * the page cache and kept for the life of the process. Returns 0 or -1. */
static int map_file(FILE *fp, const char **text, size_t *size)
{
    struct stat st;
    int fd = fp ? fileno(fp) : -1;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0)
        return -1;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return -1;
    *text = map;
    *size = (size_t)st.st_size;
    return 0;
}

/* Under wn_mu. */
static void open_locked(void)
{
    if (wn_state != 0)
        return;
    wn_state = wninit() == 0 ? 1 : -1;
    static const char *const exc_names[ADV + 1] = {NULL, "noun", "verb", "adj", "adv"};
    for (int pos = NOUN; wn_state == 1 && pos <= ADV; pos++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.exc", SetSearchdir(), exc_names[pos]);
        FILE *f = fopen(path, "rb");
        const char *text;
        size_t size;
        if (!f || map_file(f, &text, &size) < 0 || table_load(&exc[pos], text, size) < 0)
            wn_state = -1;
        if (f)
            fclose(f); /* the mapping stays */
        if (map_file(indexfps[pos], &text, &size) < 0 ||
            table_load(&indexes[pos], text, size) < 0 ||
            map_file(datafps[pos], &data_text[pos], &data_size[pos]) < 0)
            wn_state = -1;
    }
}

int embed_wordnet_open(char *err, size_t errlen)
{
    pthread_mutex_lock(&wn_mu);
    open_locked();
    int state = wn_state;
    pthread_mutex_unlock(&wn_mu);
    if (state == 1)
        return 0;
    snprintf(err, errlen,
             "cannot open the WordNet database (install Debian's wordnet-base package, or set "
             "WNSEARCHDIR to the directory holding index.noun and data.noun)");
    return -1;
}

int embed_wordnet_text(const char *text, size_t len, float *out, int dims)
{
    struct embed_ctx *c = malloc(sizeof(*c));
    if (!c)
        return -1;
    *c = (struct embed_ctx){.out = out, .dims = dims};
    memset(out, 0, sizeof(float) * (size_t)dims);
    pthread_mutex_lock(&wn_mu);
    open_locked();
    int state = wn_state;
    if (state == 1)
        embed_words(text, len, embed_word, c);
    pthread_mutex_unlock(&wn_mu);
    free(c);
    if (state != 1)
        return -1;
    embed_normalise(out, dims);
    return 0;
}
