package org.neuronscope.realmodel;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Short texts of five domains, written for the domain-neuron test (no data set is downloaded). */
final class DomainTexts {
    private DomainTexts() {
    }

    static final Map<String, List<String>> DOMAINS = new LinkedHashMap<>();

    static {
        DOMAINS.put("code", List.of(
                "for (int i = 0; i < n; i++) { sum += values[i]; }",
                "def parse(line): return [int(x) for x in line.split(',')]",
                "if (buffer == null) throw new IllegalArgumentException(\"buffer\");",
                "import numpy as np; x = np.zeros((3, 4), dtype=np.float32)",
                "public static void main(String[] args) { System.exit(run(args)); }",
                "while read -r line; do echo \"$line\" | grep -q error && count=$((count+1)); done",
                "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
                "const result = await fetch(url).then(r => r.json());",
                "class Node: def __init__(self, key): self.key = key; self.left = None",
                "git commit -am 'fix null pointer in parser' && git push origin main",
                "return a.length() > b.length() ? a.substring(0, b.length()) : a;",
                "#include <stdio.h> int main(void) { printf(\"%d\\n\", 42); return 0; }"));
        DOMAINS.put("arithmetic", List.of(
                "Seven plus eight equals fifteen.",
                "12 times 12 is 144, and 144 divided by 3 is 48.",
                "What is 35 minus 17? The answer is 18.",
                "Three quarters of sixty is forty-five.",
                "If x = 4 then 3x + 2 = 14.",
                "The square root of 81 is 9 and 9 squared is 81.",
                "Add 250 and 750 to get 1000.",
                "Half of ninety-eight is forty-nine.",
                "2 + 2 = 4, 4 × 4 = 16, 16 − 6 = 10.",
                "Nine divided by three equals three.",
                "The sum of 1, 2, 3 and 4 is 10.",
                "Twenty percent of 350 is 70."));
        DOMAINS.put("recipes", List.of(
                "Whisk the eggs with sugar until pale, then fold in the flour.",
                "Simmer the tomatoes with garlic and basil for twenty minutes.",
                "Preheat the oven to 200 degrees and roast the potatoes until golden.",
                "Knead the dough for ten minutes and let it rise in a warm place.",
                "Season the chicken with salt, pepper and paprika before grilling.",
                "Melt the butter in a pan and gently fry the onions until soft.",
                "Add a pinch of cinnamon and a spoonful of honey to the porridge.",
                "Boil the pasta in salted water and drain it while still al dente.",
                "Chop the parsley finely and sprinkle it over the soup.",
                "Bake the cake for forty minutes, then let it cool on a rack.",
                "Marinate the beef overnight in soy sauce, ginger and garlic.",
                "Stir the risotto often and add the stock one ladle at a time."));
        DOMAINS.put("legal", List.of(
                "The tenant shall pay the rent on the first day of each month.",
                "This agreement shall be governed by the laws of the State of New York.",
                "The parties agree to submit any dispute to binding arbitration.",
                "The licensee may not sublicense the software without prior written consent.",
                "Any amendment to this contract must be made in writing and signed by both parties.",
                "The court held that the defendant was liable for breach of contract.",
                "The plaintiff seeks damages and an injunction against further infringement.",
                "Notwithstanding the foregoing, the seller warrants title to the goods.",
                "The employee shall keep all confidential information strictly confidential.",
                "This clause survives the termination or expiry of the agreement.",
                "The guarantor is jointly and severally liable for the obligations of the debtor.",
                "The appeal was dismissed and the judgment of the lower court affirmed."));
        DOMAINS.put("places", List.of(
                "Lisbon, Porto and Coimbra are cities in Portugal.",
                "The Nile flows north through Egypt into the Mediterranean Sea.",
                "Kyoto lies west of Tokyo on the island of Honshu.",
                "Buenos Aires is the capital of Argentina.",
                "The Alps stretch across France, Switzerland, Italy and Austria.",
                "Lake Titicaca sits on the border between Peru and Bolivia.",
                "Edinburgh and Glasgow are the largest cities of Scotland.",
                "The Danube passes Vienna, Bratislava, Budapest and Belgrade.",
                "Nairobi is in Kenya, north of Mount Kilimanjaro in Tanzania.",
                "Reykjavik is the northernmost capital of a sovereign state.",
                "The Mississippi river runs from Minnesota to the Gulf of Mexico.",
                "Marrakesh, Fez and Casablanca are Moroccan cities."));
    }
}
