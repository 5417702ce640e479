package org.neuronscope.model;

import org.neuronscope.UnsupportedArchitectureException;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.bindings.llama_chat_message;
import org.neuronscope.bindings.neuronscope_h;
import org.neuronscope.internal.NativeHandle;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The model's vocabulary: tokenize, detokenize, special tokens, chat template. Valid while its model is open. */
public final class Tokenizer {
    private final Model model;
    private final MemorySegment vocab;
    private final int size;

    Tokenizer(Model model, MemorySegment vocab) {
        this.model = model;
        this.vocab = vocab;
        this.size = neuronscope_h.llama_vocab_n_tokens(vocab);
    }

    private MemorySegment vocab() {
        NativeHandle.of(model).get(); // throws if the model is closed
        return vocab;
    }

    public int vocabularySize() {
        return size;
    }

    /**
     * Tokenizes UTF-8 text.
     *
     * @param addSpecial   add the model's BOS/EOS as its tokenizer says
     * @param parseSpecial read special-token texts such as {@code <|im_start|>} as those tokens
     */
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        if (text == null) {
            throw new IllegalArgumentException("text must not be null");
        }
        return tokenize(text.getBytes(StandardCharsets.UTF_8), addSpecial, parseSpecial);
    }

    /** Tokenizes raw bytes (normally UTF-8; invalid sequences are the tokenizer's business). */
    public int[] tokenize(byte[] utf8, boolean addSpecial, boolean parseSpecial) {
        return NativeHandle.of(model).shared(m -> {
            if (utf8 == null) {
                throw new IllegalArgumentException("text must not be null");
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment in = arena.allocate(utf8.length + 1L);
                MemorySegment.copy(utf8, 0, in, ValueLayout.JAVA_BYTE, 0, utf8.length);
                int capacity = utf8.length + 16;
                MemorySegment out = arena.allocate(ValueLayout.JAVA_INT, capacity);
                int n = neuronscope_h.llama_tokenize(vocab(), in, utf8.length, out, capacity, addSpecial, parseSpecial);
                if (n < 0) {
                    capacity = -n;
                    out = arena.allocate(ValueLayout.JAVA_INT, capacity);
                    n = neuronscope_h.llama_tokenize(vocab(), in, utf8.length, out, capacity, addSpecial, parseSpecial);
                }
                if (n < 0) {
                    throw new NeuronScopeException("llama.cpp could not tokenize the text (" + utf8.length + " bytes)");
                }
                return out.asSlice(0, (long) n * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
            }
        });
    }

    /** The text of one token as it appears in generated text (special tokens rendered if {@code special}). */
    public String piece(int token, boolean special) {
        return new String(pieceBytes(token, special), StandardCharsets.UTF_8);
    }

    /** Raw bytes of one token's piece (a token may hold part of a UTF-8 character). */
    public byte[] pieceBytes(int token, boolean special) {
        return NativeHandle.of(model).shared(m -> {
            checkToken(token);
            try (Arena arena = Arena.ofConfined()) {
                int capacity = 64;
                MemorySegment buf = arena.allocate(capacity);
                int n = neuronscope_h.llama_token_to_piece(vocab(), token, buf, capacity, 0, special);
                if (n < 0) {
                    capacity = -n;
                    buf = arena.allocate(capacity);
                    n = neuronscope_h.llama_token_to_piece(vocab(), token, buf, capacity, 0, special);
                }
                return buf.asSlice(0, Math.max(n, 0)).toArray(ValueLayout.JAVA_BYTE);
            }
        });
    }

    /** Text of a token sequence. */
    public String detokenize(int[] tokens, boolean removeSpecial, boolean unparseSpecial) {
        return NativeHandle.of(model).shared(m -> {
            for (int t : tokens) {
                checkToken(t);
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_INT, tokens);
                int capacity = Math.max(64, tokens.length * 8);
                MemorySegment out = arena.allocate(capacity);
                int n = neuronscope_h.llama_detokenize(vocab(), in, tokens.length, out, capacity, removeSpecial, unparseSpecial);
                if (n < 0) {
                    capacity = -n;
                    out = arena.allocate(capacity);
                    n = neuronscope_h.llama_detokenize(vocab(), in, tokens.length, out, capacity, removeSpecial, unparseSpecial);
                }
                if (n < 0) {
                    throw new NeuronScopeException("llama.cpp could not detokenize " + tokens.length + " tokens");
                }
                return new String(out.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            }
        });
    }

    public int bos() {
        return NativeHandle.of(model).shared(m -> {
            return neuronscope_h.llama_vocab_bos(vocab());
        });
    }

    public int eos() {
        return NativeHandle.of(model).shared(m -> {
            return neuronscope_h.llama_vocab_eos(vocab());
        });
    }

    public int eot() {
        return NativeHandle.of(model).shared(m -> {
            return neuronscope_h.llama_vocab_eot(vocab());
        });
    }

    /** True for tokens that end generation (EOS, EOT, ...). */
    public boolean isEndOfGeneration(int token) {
        return NativeHandle.of(model).shared(m -> {
            checkToken(token);
            return neuronscope_h.llama_vocab_is_eog(vocab(), token);
        });
    }

    public boolean isControl(int token) {
        return NativeHandle.of(model).shared(m -> {
            checkToken(token);
            return neuronscope_h.llama_vocab_is_control(vocab(), token);
        });
    }

    public boolean addsBos() {
        return NativeHandle.of(model).shared(m -> {
            return neuronscope_h.llama_vocab_get_add_bos(vocab());
        });
    }

    /** The stored text of a token in the vocabulary. */
    public String text(int token) {
        return NativeHandle.of(model).shared(m -> {
            checkToken(token);
            return neuronscope_h.llama_vocab_get_text(vocab(), token).reinterpret(Long.MAX_VALUE).getString(0);
        });
    }

    /** The chat template stored in the model, if any ({@link Model#chatTemplate()}). */
    public java.util.Optional<String> chatTemplate() {
        return model.chatTemplate();
    }

    /**
     * Formats a conversation with the model's chat template (or {@code template}, a template text or a
     * built-in name such as "chatml").
     *
     * @param addAssistantPrefix end with the start of an assistant turn, ready for generation
     */
    public String applyChatTemplate(String template, List<ChatMessage> messages, boolean addAssistantPrefix) {
        String tmpl = template != null ? template : model.chatTemplate()
                .orElseThrow(() -> new UnsupportedArchitectureException("the model has no chat template; pass one (e.g. \"chatml\")"));
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("messages must not be empty");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chat = llama_chat_message.allocateArray(messages.size(), arena);
            int chars = 0;
            for (int i = 0; i < messages.size(); i++) {
                ChatMessage m = messages.get(i);
                MemorySegment msg = llama_chat_message.asSlice(chat, i);
                llama_chat_message.role(msg, arena.allocateFrom(m.role()));
                llama_chat_message.content(msg, arena.allocateFrom(m.content()));
                chars += m.content().length() + m.role().length();
            }
            MemorySegment t = arena.allocateFrom(tmpl);
            int capacity = chars * 2 + 256;
            MemorySegment buf = arena.allocate(capacity);
            int n = neuronscope_h.llama_chat_apply_template(t, chat, messages.size(), addAssistantPrefix, buf, capacity);
            if (n > capacity) {
                buf = arena.allocate(n);
                n = neuronscope_h.llama_chat_apply_template(t, chat, messages.size(), addAssistantPrefix, buf, n);
            }
            if (n < 0) {
                throw new IllegalArgumentException("llama.cpp does not support this chat template: "
                        + (tmpl.length() > 80 ? tmpl.substring(0, 80) + "..." : tmpl));
            }
            return new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    void checkToken(int token) {
        if (token < 0 || token >= size) {
            throw new IndexOutOfBoundsException("token " + token + " is out of range [0, " + size + ")");
        }
    }

    /** One message of a conversation. */
    public record ChatMessage(String role, String content) {
        public ChatMessage {
            if (role == null || content == null) {
                throw new IllegalArgumentException("role and content must not be null");
            }
        }
    }
}
