/* llm — the wire side of the optional LLM provider agents may consult (task_llm in
 * agent.h): request bodies and answer parsing for an OpenAI-compatible chat completions
 * endpoint (POST /v1/chat/completions → choices[0].message.content) and Ollama
 * (POST /api/chat with stream false → message.content). Pure functions, for task_llm and
 * the unit tests. */
#ifndef FLOWSTATE_LLM_H
#define FLOWSTATE_LLM_H

#include <stddef.h>

enum llm_api { LLM_API_OFF, LLM_API_OPENAI, LLM_API_OLLAMA };

/* The api the llm-provider setting names ("off", "openai", "ollama"). */
enum llm_api llm_api_from_name(const char *name);
/* "/v1/chat/completions" or "/api/chat". */
const char *llm_path(enum llm_api api);
/* The request body (caller frees), or NULL on allocation failure. system may be NULL. */
char *llm_request(enum llm_api api, const char *model, const char *system, const char *prompt);
/* Copies the answer's text into out (outlen bytes, NUL-terminated, cut at a character
 * boundary when longer). Returns 0, or -1 with the reason in err (not JSON, no text). */
int llm_parse(enum llm_api api, const char *body, size_t len, char *out, size_t outlen, char *err,
              size_t errlen);

#endif
