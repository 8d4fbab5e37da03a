"""The words of SynthPEDES long-form captions that are not noun phrases: sentence frames per part,
views, settings, actions and the per-type detail sentences, English and Vietnamese side by side
(glalign.data.longform_sentences fills them)."""
from __future__ import annotations


# Sentence frames: {P} pronoun, {p} lower-case pronoun, {poss} possessive, {x} the noun phrase.
EN_FRAMES = {
    "UPPERBODY": ("{P} is wearing {x} on top.", "On {poss} upper body {p} has {x}.",
                  "For the top, {p} has chosen {x}."),
    "LOWERBODY": ("Below the waist {p} wears {x}.", "On {poss} lower body {p} has {x}.",
                  "{P} has {x} on {poss} legs."),
    "SHOES": ("On {poss} feet {p} wears {x}.", "{P} has {x} on {poss} feet.", "{Poss} footwear is {x}."),
}
VI_FRAMES = {
    "UPPERBODY": ("{P} mặc {x} ở phần thân trên.", "Phía trên, {p} mặc {x}.", "Bên trên {p} khoác lên người {x}."),
    "LOWERBODY": ("Phía dưới, {p} mặc {x}.", "Phần thân dưới {p} mặc {x}.", "{P} mặc {x} ở phần thân dưới."),
    "SHOES": ("{P} đi {x}.", "Dưới chân {p} là đôi {x}.", "{P} mang {x} dưới chân."),
}
EN_ACC_VERB = {"backpack": "carries", "handbag": "holds", "umbrella": "holds", "phone": "is holding"}
EN_VIEW = {"front": "facing the camera", "back": "walking away from the camera", "side": "seen from the side"}
VI_VIEW = {"front": "đang nhìn về phía máy quay", "back": "đang quay lưng lại phía máy quay",
           "side": "đang đứng nghiêng về một bên"}
SETTINGS = [("on a busy city sidewalk", "trên vỉa hè đông đúc của thành phố"),
            ("in a shopping street", "trên một con phố mua sắm"), ("near a bus stop", "gần một trạm xe buýt"),
            ("on a path across a campus", "trên lối đi trong khuôn viên trường"),
            ("in front of an office building", "trước một tòa nhà văn phòng"),
            ("at a crossroads", "ở một ngã tư")]
ACTIONS = [("walking at a steady pace", "đang đi bộ với tốc độ đều"),
           ("standing still for a moment", "đang đứng yên một lúc"),
           ("about to cross the road", "chuẩn bị băng qua đường"), ("strolling slowly", "đang thong thả dạo bước")]
WHOLE_BODY = ("The whole body is visible from head to toe.", "Có thể nhìn thấy toàn thân từ đầu đến chân.")

EN_LOWER_DETAIL = {"pants": "The trousers reach down to {poss} ankles.", "jeans": "The jeans reach down to {poss} ankles.",
                   "shorts": "The shorts end above {poss} knees.", "skirt": "The skirt ends around {poss} knees."}
VI_LOWER_DETAIL = {"pants": "Chiếc quần dài đến mắt cá chân.", "jeans": "Chiếc quần bò dài đến mắt cá chân.",
                   "shorts": "Chiếc quần ngắn ở trên đầu gối.", "skirt": "Chiếc váy dài đến ngang đầu gối."}
EN_SHOE_DETAIL = {"boots": "The boots cover {poss} ankles.", "sandals": "{Poss} toes show in the sandals.",
                  "sneakers": "The sneakers have flat soles.", "shoes": "The shoes are low and flat."}
VI_SHOE_DETAIL = {"boots": "Đôi bốt che kín mắt cá chân.", "sandals": "Có thể thấy các ngón chân trong đôi dép.",
                  "sneakers": "Đôi giày thể thao có đế bằng.", "shoes": "Đôi giày thấp và đế bằng."}
EN_ACC_DETAIL = {"backpack": "The backpack hangs from both shoulders.", "handbag": "The bag hangs from one hand.",
                 "umbrella": "{P} keeps the umbrella close to {poss} body.", "phone": "The phone is in {poss} hand."}
VI_ACC_DETAIL = {"backpack": "Chiếc ba lô được đeo trên cả hai vai.", "handbag": "Chiếc túi được cầm ở một tay.",
                 "umbrella": "{P} giữ chiếc ô sát người.", "phone": "Chiếc điện thoại nằm trong tay {p}."}
