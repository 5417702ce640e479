package org.neuronscope.realmodel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A transcription of Hugging Face's BERT tokenization as {@code tokenizer.json} of all-MiniLM-L6-v2
 * configures it (BertNormalizer: clean text, CJK characters spaced, lowercase, accents stripped;
 * BertPreTokenizer: split on whitespace and around every punctuation character; WordPiece: greedy
 * longest match with {@code ##} continuations, [UNK] for a word that does not split or is longer than
 * 100 characters; the template [CLS] A [SEP]). Written from the tokenizers' definitions, independent
 * of llama.cpp, to check the ids llama.cpp gives on the converted vocabulary.
 */
final class WordPieceReference {
    private final Map<String, Integer> vocab = new HashMap<>();
    private final int unk, cls, sep;

    WordPieceReference(Path tokenizerJson) throws IOException {
        JsonNode root = new ObjectMapper().readTree(tokenizerJson.toFile());
        root.path("model").path("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        unk = vocab.get("[UNK]");
        cls = vocab.get("[CLS]");
        sep = vocab.get("[SEP]");
    }

    int[] encode(String text) {
        List<Integer> ids = new ArrayList<>();
        ids.add(cls);
        for (String word : preTokenize(normalize(text))) {
            ids.addAll(wordPiece(word));
        }
        ids.add(sep);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static String normalize(String text) {
        StringBuilder b = new StringBuilder();
        text.codePoints().forEach(c -> {
            if (c == 0 || c == 0xfffd || isControl(c)) {
                return;
            }
            if (isWhitespace(c)) {
                b.append(' ');
            } else if (isCjk(c)) {
                b.append(' ').appendCodePoint(c).append(' ');
            } else {
                b.appendCodePoint(c);
            }
        });
        String lower = b.toString().toLowerCase(java.util.Locale.ROOT);
        String nfd = Normalizer.normalize(lower, Normalizer.Form.NFD);
        StringBuilder s = new StringBuilder();
        nfd.codePoints().filter(c -> Character.getType(c) != Character.NON_SPACING_MARK).forEach(s::appendCodePoint);
        return s.toString();
    }

    private static List<String> preTokenize(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        text.codePoints().forEach(c -> {
            if (isWhitespace(c)) {
                flush(words, cur);
            } else if (isPunctuation(c)) {
                flush(words, cur);
                words.add(new String(Character.toChars(c)));
            } else {
                cur.appendCodePoint(c);
            }
        });
        flush(words, cur);
        return words;
    }

    private static void flush(List<String> words, StringBuilder cur) {
        if (!cur.isEmpty()) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    private List<Integer> wordPiece(String word) {
        if (word.codePointCount(0, word.length()) > 100) {
            return List.of(unk);
        }
        List<Integer> pieces = new ArrayList<>();
        int start = 0;
        while (start < word.length()) {
            int end = word.length();
            Integer found = null;
            while (start < end) {
                String sub = (start > 0 ? "##" : "") + word.substring(start, end);
                if (vocab.containsKey(sub)) {
                    found = vocab.get(sub);
                    break;
                }
                end = word.offsetByCodePoints(end, -1);
            }
            if (found == null) {
                return List.of(unk);
            }
            pieces.add(found);
            start = end;
        }
        return pieces;
    }

    private static boolean isWhitespace(int c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || Character.getType(c) == Character.SPACE_SEPARATOR;
    }

    private static boolean isControl(int c) {
        if (c == '\t' || c == '\n' || c == '\r') {
            return false;
        }
        int t = Character.getType(c);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.PRIVATE_USE || t == Character.SURROGATE;
    }

    private static boolean isPunctuation(int c) {
        if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) {
            return true;
        }
        int t = Character.getType(c);
        return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION || t == Character.START_PUNCTUATION
                || t == Character.END_PUNCTUATION || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
                || t == Character.OTHER_PUNCTUATION;
    }

    private static boolean isCjk(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }
}
