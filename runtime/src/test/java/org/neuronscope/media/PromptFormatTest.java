package org.neuronscope.media;

import org.junit.jupiter.api.Test;
import org.neuronscope.eval.Sample;
import org.neuronscope.model.Model;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The default system message a chat template writes, found in the template and used as Hugging Face's rendering would. */
class PromptFormatTest {
    // the defaults of Qwen2-VL's and Qwen2.5's templates (as their tokenizer_config.json hold them), and Llama 3's, which has none
    static final String QWEN2_VL = "{% set image_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] "
            + "!= 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n";
    static final String QWEN2_5 = "{%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] "
            + "+ '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
            + "helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}";
    static final String LLAMA3 = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' "
            + "+ message['content'] | trim + '<|eot_id|>' }}{% endfor %}";

    @Test
    void findsTheLiteralDefaultOfChatMlTemplatesOnly() {
        assertEquals(Optional.of("You are a helpful assistant."), PromptFormat.templateDefaultSystem(QWEN2_VL));
        assertEquals(Optional.of("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."), PromptFormat.templateDefaultSystem(QWEN2_5),
                "the turn built from messages[0]['content'] is not a literal and is skipped");
        assertEquals(Optional.empty(), PromptFormat.templateDefaultSystem(LLAMA3));
        assertEquals(Optional.empty(), PromptFormat.templateDefaultSystem(null));
    }

    @Test
    void theModelsTemplateDefaultIsWrittenOnlyWhenTheSampleHasNoSystem() {
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2"))) {
            String template = model.chatTemplate().orElseThrow();
            String expected = PromptFormat.templateDefaultSystem(template).orElseThrow(() -> new AssertionError("qwen2's template has a default"));
            Sample plain = Sample.text("s", "What is two plus two?", List.of());
            String none = PromptFormat.chat().format(model.tokenizer(), plain, null);
            String withDefault = PromptFormat.chat().withDefaultSystem(PromptFormat.TEMPLATE_DEFAULT_SYSTEM).format(model.tokenizer(), plain, null);
            assertFalse(none.contains(expected), none);
            assertTrue(withDefault.startsWith("<|im_start|>system\n" + expected + "<|im_end|>\n<|im_start|>user\nWhat is two plus two?"), withDefault);
            Sample own = new Sample("t", "Hi", "Be brief.", List.of(), List.of(), List.of(), List.of(), List.of(), Sample.NO_ANSWER, java.util.Map.of());
            String kept = PromptFormat.chat().withDefaultSystem(PromptFormat.TEMPLATE_DEFAULT_SYSTEM).format(model.tokenizer(), own, null);
            assertTrue(kept.contains("Be brief.") && !kept.contains(expected), kept);
            assertTrue(PromptFormat.chat().withDefaultSystem("Answer in French.").format(model.tokenizer(), plain, null).contains("Answer in French."));
        }
    }

    @Test
    void theAnswerFollowsTheAssistantPrefixWhenAsked() {
        try (Model model = Model.load(SyntheticFixtures.tiny("qwen2"))) {
            Sample open = Sample.text("o", "Capital of France?", List.of("Paris", "paris"));
            String question = PromptFormat.chat().format(model.tokenizer(), open, null);
            assertEquals(question + "Paris", PromptFormat.chat().withAnswerAppended(true).format(model.tokenizer(), open, null));
            Sample mc = Sample.multipleChoice("m", "Capital of France?", List.of("Rome", "Paris"), 1);
            String mcQuestion = PromptFormat.chat().format(model.tokenizer(), mc, null);
            assertEquals(mcQuestion + "B", PromptFormat.chat().withAnswerAppended(true).format(model.tokenizer(), mc, null));
            Sample none = Sample.text("n", "Say anything.", List.of());
            assertEquals(PromptFormat.chat().format(model.tokenizer(), none, null),
                    PromptFormat.chat().withAnswerAppended(true).format(model.tokenizer(), none, null));
            assertEquals("Capital of France?\nParis", PromptFormat.raw().withAnswerAppended(true).format(model.tokenizer(), open, null));
        }
    }
}
